#!/usr/bin/env python3
"""Checks our merged export (examples/merge_adapter) in transformers + PEFT and writes the
fixtures the Rust tests compare against (fixtures/finetune/merged/). Run by a developer, not CI:

    bash scripts/fetch_models.sh
    python3 -m venv .cache/pyenv-trainer
    .cache/pyenv-trainer/bin/pip install torch transformers peft safetensors numpy gguf
    .cache/pyenv-trainer/bin/python scripts/make_merge_fixture.py

1. Tiny model: fixtures/llm/tiny-llama31 with our adapter fixtures/finetune/ours merged by
   `merge_adapter`; transformers' logits on the merged directory must equal PEFT's on base +
   adapter within 1e-4. The sha256 of every file written is recorded, so a Rust test can check
   that our code still writes the files transformers was shown.
2. SmolLM2-135M-Instruct (GGUF): a LoRA adapter trained by our `finetune` example (r 4 on
   q_proj and v_proj, 30 steps on fixed token sequences; written to
   fixtures/finetune/merged/smollm2-adapter/) merged by `merge_adapter` from the GGUF file;
   PEFT on transformers' own GGUF load + the adapter is the reference; the merged directory
   (config.json and tokenizer.json written from the GGUF metadata) must give its logits within
   1e-4 in transformers, and its tokenizer must encode like transformers' GGUF tokenizer.
   PEFT's logits at the last positions of a fixed text are stored for the Rust test.

Writes fixtures/finetune/merged/{check.json, smollm2_peft_logits.safetensors,
smollm2-adapter/, train.jsonl}.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out_dir = os.path.join(root, "fixtures", "finetune", "merged")
tiny_dir = os.path.join(root, "fixtures", "llm", "tiny-llama31")
ours_adapter = os.path.join(root, "fixtures", "finetune", "ours")
gguf = os.path.join(root, ".cache", "models", "smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
TEXT = "Person A said: I never lock the shed. Person A would also say: Option 1"
TOL = 1e-4


def cargo_example(name, *args):
    cmd = ["cargo", "run", "--quiet", "--release", "--example", name, "--", *args]
    subprocess.run(cmd, cwd=root, check=True)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def written(directory):
    return {n: sha256(os.path.join(directory, n)) for n in sorted(os.listdir(directory))}


def logits(model, ids):
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].float()


def tiny_check(work):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    merged = os.path.join(work, "tiny-merged")
    cargo_example("merge_adapter", "--model", tiny_dir, "--adapter", ours_adapter, "--out", merged)
    examples = json.load(open(os.path.join(root, "fixtures", "finetune", "examples.json")))["examples"]
    base = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()
    peft = PeftModel.from_pretrained(base, ours_adapter).eval()
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    worst = 0.0
    for e in examples:
        d = (logits(peft, e["input_ids"]) - logits(model, e["input_ids"])).abs().max().item()
        worst = max(worst, d)
    assert worst < TOL, f"tiny: merged in transformers vs PEFT {worst}"
    print(f"tiny: merged directory in transformers vs base + adapter in PEFT: {worst:.3g}")
    return {"max_abs_diff_vs_peft": worst, "files": written(merged)}


def train_smollm2_adapter(work):
    import random

    data = os.path.join(out_dir, "train.jsonl")
    r = random.Random(20261203)
    with open(data, "w") as f:
        for _ in range(6):
            ids = [r.randrange(100, 49000) for _ in range(48)]
            f.write(json.dumps({"input_ids": ids, "labels": [-100] * 16 + ids[16:]}) + "\n")
    run = os.path.join(work, "smollm2-lora")
    cargo_example(
        "finetune", "--model", gguf, "--train", data, "--out", run, "--lr", "2e-3",
        "--max-steps", "30", "--lora-r", "4", "--lora-alpha", "8",
        "--target-modules", "q_proj,v_proj", "--seed", "7",
    )
    adapter = os.path.join(out_dir, "smollm2-adapter")
    shutil.rmtree(adapter, ignore_errors=True)
    os.makedirs(adapter)
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        shutil.copy(os.path.join(run, name), os.path.join(adapter, name))
    return adapter


def smollm2_check(work):
    from peft import PeftModel
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = train_smollm2_adapter(work)
    merged = os.path.join(work, "smollm2-merged")
    cargo_example("merge_adapter", "--model", gguf, "--adapter", adapter, "--out", merged)
    directory, name = os.path.split(gguf)
    reference_tok = AutoTokenizer.from_pretrained(directory, gguf_file=name)
    ours_tok = AutoTokenizer.from_pretrained(merged)
    texts = [TEXT, "Hello, world! 12345 <|im_start|>user\nWhat do you value?<|im_end|>"]
    for t in texts:
        a = reference_tok(t, add_special_tokens=False)["input_ids"]
        b = ours_tok(t, add_special_tokens=False)["input_ids"]
        assert a == b, f"tokenizers differ on {t!r}: {a} vs {b}"
    ids = ours_tok(TEXT, add_special_tokens=False)["input_ids"]
    base = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32).eval()
    peft = PeftModel.from_pretrained(base, adapter).eval()
    want = logits(peft, ids)
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).eval()
    got = logits(model, ids)
    worst = (want - got).abs().max().item()
    with peft.disable_adapter():
        moved = (logits(peft, ids) - want).abs().max().item()
    assert worst < TOL, f"smollm2: merged in transformers vs PEFT {worst}"
    assert moved > 1e-3, f"the trained adapter changes the logits by {moved} only"
    print(f"smollm2: merged directory in transformers vs GGUF base + adapter in PEFT: {worst:.3g} "
          f"(the adapter moves logits by {moved:.3g}); tokenizers agree on {len(texts)} texts")
    save_file(
        {"input_ids": torch.tensor(ids, dtype=torch.int64), "peft_logits_last": want[-2:].contiguous()},
        os.path.join(out_dir, "smollm2_peft_logits.safetensors"),
        metadata={"format": "pt"},
    )
    files = {n: h for n, h in written(merged).items() if n != "model.safetensors"}
    return {"max_abs_diff_vs_peft": worst, "adapter_moves_logits_by": moved,
            "token_ids": ids, "text": TEXT, "files": files}


def main():
    import peft
    import transformers

    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        check = {
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "peft": peft.__version__, "python": sys.version.split()[0]},
            "tolerance": TOL,
            "tiny": tiny_check(work),
            "smollm2": smollm2_check(work),
        }
    with open(os.path.join(out_dir, "check.json"), "w") as f:
        json.dump(check, f, indent=1)
        f.write("\n")
    print("wrote", out_dir)


if __name__ == "__main__":
    main()
