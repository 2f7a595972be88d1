#!/usr/bin/env python3
"""Makes the language-model fixtures in fixtures/llm from the files scripts/fetch_models.sh
fetched. Run by a developer (not by CI) after fetching; needs `pip install tokenizers jinja2 gguf`.

- llama3_tokenizer.json: token ids that Python `tokenizers` gives with the real Llama 3
  tokenizer.json, for strings including a long probing-style prompt.
- smollm2_chat.json: conversations rendered with jinja2 (as transformers does: trim_blocks,
  lstrip_blocks) through the chat template stored in the SmolLM2 GGUF file.
"""
import json
import os
import sys

import jinja2
from gguf import GGUFReader
from tokenizers import Tokenizer

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cache = os.path.join(root, os.environ.get("INDIEVALUE_MODEL_CACHE", os.path.join(".cache", "models")))
out_dir = os.path.join(root, "fixtures", "llm")
os.makedirs(out_dir, exist_ok=True)

statements = [
    "keeping in touch with neighbours matters a great deal to me",
    "I rate my daily commute fairly low",
    "I do care about the local library",
    "I lean towards agreeing that a small business of my own is worth the effort",
    "I sometimes think about the office that issues permits",
]
demos = "\n".join("# " + s[0].upper() + s[1:] for s in statements * 12)
groups = {
    f"new statement group {i} (NSG{i})": [
        {f"NSG{i}_s{j}": f"{s} (variant {j})"} for j in range(1, 3)
    ]
    for i, s in enumerate(statements, start=1)
}
long_prompt = (
    "You help researchers understand one person's values. Below are statements the person "
    "agreed with.\n\n[Known statements]\n" + demos + "\n\n[New statement groups]\n"
    + json.dumps(groups, indent=4)
    + '\n\nAnswer in JSON: {"NSG1": {"rationale": "...", "choice": "NSG1_s1"}, ...}'
)
strings = [
    "Hello, world!",
    "  leading spaces and trailing  ",
    "Numbers 1234567 and 3.14159, dates 2024-10-03.",
    "Unicode: naïve café, 日本語のテキスト, emoji 🙂, Ελληνικά.",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
    "Option 1: I agree\nOption 2: I disagree\nAnswer: Option 2: I disagree",
    long_prompt,
]
tok = Tokenizer.from_file(os.path.join(cache, "llama3", "tokenizer.json"))
ids = [tok.encode(s, add_special_tokens=False).ids for s in strings]
with open(os.path.join(out_dir, "llama3_tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump({"strings": strings, "ids": ids}, f, ensure_ascii=False)

reader = GGUFReader(os.path.join(cache, "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
template = reader.fields["tokenizer.chat_template"].contents()
env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
compiled = env.from_string(template)
conversations = [
    [{"role": "user", "content": "Which statement fits me best?"}],
    [
        {"role": "system", "content": "You analyse value statements."},
        {"role": "user", "content": "# I do care about the local library\nPredict the next one."},
        {"role": "assistant", "content": "Option 1: I agree"},
        {"role": "user", "content": "And this one?"},
    ],
]
cases = [
    {
        "messages": m,
        "add_generation_prompt": g,
        "rendered": compiled.render(messages=m, add_generation_prompt=g, bos_token="<|im_start|>", eos_token="<|im_end|>"),
    }
    for m in conversations
    for g in (True, False)
]
with open(os.path.join(out_dir, "smollm2_chat.json"), "w", encoding="utf-8") as f:
    json.dump({"template_sha_prefix": template[:40], "cases": cases}, f, ensure_ascii=False, indent=1)
# A multi-line template of our own, where trim_blocks, lstrip_blocks and a loop control matter.
multiline = """{{ bos_token }}
{% for message in messages %}
    {% if message['role'] == 'system' %}
[SYS] {{ message['content'] | trim }}
    {% else %}
<{{ message['role'] }}> {{ message['content'] }}{% if loop.last %} (last){% endif %}

    {% endif %}
    {% if loop.index > 3 %}{% break %}{% endif %}
{% endfor %}
{% if add_generation_prompt %}
<assistant>
{% endif %}"""
compiled = jinja2.Environment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]).from_string(multiline)
multi_cases = [
    {
        "messages": m,
        "add_generation_prompt": g,
        "rendered": compiled.render(messages=m, add_generation_prompt=g, bos_token="<s>", eos_token="</s>"),
    }
    for m in conversations
    for g in (True, False)
]
with open(os.path.join(out_dir, "multiline_chat.json"), "w", encoding="utf-8") as f:
    json.dump({"template": multiline, "bos_token": "<s>", "eos_token": "</s>", "cases": multi_cases}, f, ensure_ascii=False, indent=1)
print("wrote", out_dir, file=sys.stderr)
