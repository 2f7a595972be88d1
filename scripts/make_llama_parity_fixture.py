#!/usr/bin/env python3
"""Makes the Llama parity fixtures in fixtures/llm with transformers (run by a developer, not CI).

Needs `pip install torch transformers safetensors` (CPU is enough); --smollm2 also needs `gguf` and
`accelerate`.

Default (part A): a tiny random Llama-3.1-shaped model (grouped-query attention, llama3 RoPE
scaling, untied lm_head) saved in fixtures/llm/tiny-llama31/ (config.json, model.safetensors)
with golden logits in expected.safetensors: three unpadded sequences and the same three rows as a
right-padded and as a left-padded batch.

--smollm2 (part B, also run by --all): reference token ids and last-position logits of the
SmolLM2-135M-Instruct Q4_1 GGUF (that scripts/fetch_models.sh fetches), loaded and dequantized to
float32 by transformers: fixtures/llm/smollm2_gguf_tokenizer.json and
fixtures/llm/smollm2_reference.safetensors.
"""
import argparse
import json
import os
import sys

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
llm_dir = os.path.join(root, "fixtures", "llm")
tiny_dir = os.path.join(llm_dir, "tiny-llama31")
cache = os.path.join(root, os.environ.get("INDIEVALUE_MODEL_CACHE", os.path.join(".cache", "models")))

VOCAB = 256
ROPE_SCALING = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 16,
}
ROPE_THETA = 500000.0


def tiny_config():
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=VOCAB,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        hidden_act="silu",
        rms_norm_eps=1e-5,
        rope_theta=ROPE_THETA,
        max_position_embeddings=256,
        rope_scaling=dict(ROPE_SCALING),
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=1,
        eos_token_id=2,
        torch_dtype="float32",
        attn_implementation="eager",
    )


def add_legacy_config_keys(path):
    """transformers >= 5 writes `rope_parameters` and `dtype`; real Llama-3.1 checkpoints (and most
    loaders) use `rope_theta`, `rope_scaling` and `torch_dtype`. Write both spellings."""
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg.setdefault("rope_theta", ROPE_THETA)
    cfg.setdefault("rope_scaling", dict(ROPE_SCALING))
    cfg.setdefault("torch_dtype", "float32")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    return cfg


def check_rope_is_scaled(model):
    """The llama3 scaling with original_max_position_embeddings 16 must change the frequencies.
    (Wavelengths are >= 2*pi > 16/high_freq_factor, so none stays unchanged: the highest
    frequency falls in the smoothed band, the others are divided by the factor.)"""
    head_dim = model.config.head_dim
    plain = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    used = model.model.rotary_emb.inv_freq.double()
    ratio = (used / plain).tolist()
    print("rope: inv_freq scaled / unscaled =", ", ".join(f"{r:.4f}" for r in ratio))
    factor = ROPE_SCALING["factor"]
    smoothed = sum(1 for r in ratio if 1.0 / factor + 1e-6 < r < 1.0 - 1e-6)
    divided = sum(1 for r in ratio if abs(r - 1.0 / factor) < 1e-6)
    assert smoothed >= 1 and divided >= 1 and smoothed + divided == len(ratio), ratio


def make_tiny():
    from safetensors.torch import save_file
    from transformers import LlamaForCausalLM
    import transformers

    torch.manual_seed(0)
    config = tiny_config()
    model = LlamaForCausalLM(config).to(torch.float32)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                # RMSNorm weights start at ones: scale by random factors in [0.5, 1.5].
                p.mul_(0.5 + torch.rand_like(p))
            else:
                # Embeddings and linear layers: N(0, 0.15) so logits are not tiny.
                p.normal_(0.0, 0.15)
    model.eval()
    model.config._attn_implementation = "eager"
    assert not model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()
    check_rope_is_scaled(model)

    os.makedirs(tiny_dir, exist_ok=True)
    model.save_pretrained(tiny_dir, safe_serialization=True)
    cfg = add_legacy_config_keys(os.path.join(tiny_dir, "config.json"))
    gen_cfg = os.path.join(tiny_dir, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)

    from safetensors import safe_open

    with safe_open(os.path.join(tiny_dir, "model.safetensors"), "pt") as f:
        keys = sorted(f.keys())
        assert "lm_head.weight" in keys, keys
        for k in keys:
            assert f.get_tensor(k).dtype == torch.float32, k
    print(f"model.safetensors: {len(keys)} tensors")

    # Reload from disk (with the legacy keys added) and use the reloaded model for the references,
    # so config.json and model.safetensors are exactly what produced them.
    model = LlamaForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    check_rope_is_scaled(model)

    gen = torch.Generator().manual_seed(1234)
    expected = {}
    singles = []
    with torch.no_grad():
        for i, n in enumerate([1, 7, 40]):
            ids = torch.randint(0, VOCAB, (n,), generator=gen, dtype=torch.int64)
            logits = model(ids[None]).logits[0].float()
            expected[f"single_{i}_input_ids"] = ids
            expected[f"single_{i}_logits"] = logits.contiguous()

        lengths = [12, 5, 9]
        width = max(lengths)
        rows = [torch.randint(3, VOCAB, (n,), generator=gen, dtype=torch.int64) for n in lengths]
        for r in rows:
            singles.append(model(r[None]).logits[0].float())

        right_ids = torch.zeros(len(rows), width, dtype=torch.int64)
        right_mask = torch.zeros(len(rows), width, dtype=torch.int64)
        left_ids = torch.zeros(len(rows), width, dtype=torch.int64)
        left_mask = torch.zeros(len(rows), width, dtype=torch.int64)
        for b, r in enumerate(rows):
            n = len(r)
            right_ids[b, :n] = r
            right_mask[b, :n] = 1
            left_ids[b, width - n:] = r
            left_mask[b, width - n:] = 1
        left_pos = (left_mask.cumsum(-1) - 1).clamp(min=0)

        right_logits = model(right_ids, attention_mask=right_mask).logits.float()
        left_logits = model(left_ids, attention_mask=left_mask, position_ids=left_pos).logits.float()

    expected.update(
        right_input_ids=right_ids,
        right_attention_mask=right_mask,
        right_logits=right_logits.contiguous(),
        left_input_ids=left_ids,
        left_attention_mask=left_mask,
        left_position_ids=left_pos,
        left_logits=left_logits.contiguous(),
    )

    worst = 0.0
    for b, r in enumerate(rows):
        n = len(r)
        d_right = (right_logits[b, :n] - singles[b]).abs().max().item()
        d_left = (left_logits[b, width - n:] - singles[b]).abs().max().item()
        print(f"row {b} (len {n}): max |right - single| = {d_right:.3e}, max |left - single| = {d_left:.3e}")
        worst = max(worst, d_right, d_left)
        assert d_right <= 1e-5 and d_left <= 1e-5, (b, d_right, d_left)
    print(f"padded batches match unpadded runs: worst max diff {worst:.3e}")
    for i in range(3):
        lg = expected[f"single_{i}_logits"]
        print(f"single_{i}: len {lg.shape[0]}, logits std {lg.std().item():.3f}, max |logit| {lg.abs().max().item():.3f}")

    save_file(expected, os.path.join(tiny_dir, "expected.safetensors"), metadata={"format": "pt"})

    readme = f"""# tiny-llama31

Random tiny Llama-3.1-shaped model and golden logits from transformers, for parity tests.
- `config.json`: LlamaConfig (vocab 256, hidden 64, 2 layers, 4 heads / 2 KV heads, head_dim 16, llama3 RoPE scaling with original_max_position_embeddings 16, untied lm_head); both `rope_parameters`/`dtype` (transformers 5) and `rope_theta`/`rope_scaling`/`torch_dtype` keys.
- `model.safetensors`: float32 weights (seed 0, N(0, 0.15) linears/embeddings, RMSNorm weights scaled by U[0.5, 1.5]).
- `expected.safetensors`: `single_{{0,1,2}}_input_ids`/`_logits` (lengths 1, 7, 40), plus the same 3 rows (lengths 12, 5, 9, pad id 0) as a right-padded batch (`right_input_ids`, `right_attention_mask`, `right_logits`) and a left-padded batch (`left_input_ids`, `left_attention_mask`, `left_position_ids`, `left_logits`); eager attention, float32, CPU.
- Padded rows match their unpadded runs within {worst:.1e} at valid positions.
- Regenerate with `python3 scripts/make_llama_parity_fixture.py` (torch {torch.__version__}, transformers {transformers.__version__}).
"""
    with open(os.path.join(tiny_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme)

    total = 0
    for name in sorted(os.listdir(tiny_dir)):
        size = os.path.getsize(os.path.join(tiny_dir, name))
        total += size
        print(f"  {name}: {size} bytes")
    print(f"tiny-llama31 total: {total} bytes")
    assert total < 2 * 1024 * 1024, "fixtures exceed 2 MB"


SMOL_TEXT = (
    "The old lighthouse stood at the edge of the cliff, its white paint peeling after decades of "
    "salt and wind. Every evening the keeper climbed the spiral stairs, trimmed the wick and "
    "watched the beam sweep across the dark water, guiding fishing boats safely back to the "
    "small harbour below."
)


def make_smollm2():
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_dir = os.path.join(cache, "smollm2")
    gguf_name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not os.path.exists(os.path.join(gguf_dir, gguf_name)):
        sys.exit(f"missing {os.path.join(gguf_dir, gguf_name)}: run `bash scripts/fetch_models.sh`")

    tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_name)
    backend = json.loads(tok.backend_tokenizer.to_str())
    print("tokenizer class:", type(tok).__name__)
    for part in ["normalizer", "pre_tokenizer", "post_processor", "decoder"]:
        print(f"{part}: {json.dumps(backend.get(part))}")
    model_part = dict(backend["model"])
    vocab, merges = model_part.pop("vocab", {}), model_part.pop("merges", [])
    print(f"model: {json.dumps(model_part)} (vocab {len(vocab)}, merges {len(merges)})")
    added = backend.get("added_tokens", [])
    print(f"added_tokens ({len(added)}): {json.dumps([(a['id'], a['content'], a['special']) for a in added])}")

    with open(os.path.join(llm_dir, "llama3_tokenizer.json"), encoding="utf-8") as f:
        strings = json.load(f)["strings"]
    strings = [
        "<|im_start|>user\nHi<|im_end|>\n" if "<|begin_of_text|>" in s else s for s in strings
    ] + ["digits 0123456789 and 3.14"]
    ids = [tok(s, add_special_tokens=False)["input_ids"] for s in strings]
    for s, i in zip(strings, ids):
        assert tok.decode(i) == s, (s, tok.decode(i))
    with open(os.path.join(llm_dir, "smollm2_gguf_tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump({"strings": strings, "ids": ids}, f, ensure_ascii=False)
    for s, i in zip(strings[:6] + strings[7:], ids[:6] + ids[7:]):
        print(f"  {s!r} -> {i}")

    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
    model.eval()
    print("model config:", json.dumps({k: v for k, v in model.config.to_dict().items() if "rope" in k or k in ("tie_word_embeddings", "vocab_size", "num_key_value_heads", "rms_norm_eps")}))
    prompts = [
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "The quick brown fox",
        SMOL_TEXT,
    ]
    out = {}
    with torch.no_grad():
        for i, p in enumerate(prompts):
            ids_t = torch.tensor(tok(p, add_special_tokens=False)["input_ids"], dtype=torch.int64)
            logits = model(ids_t[None]).logits[0, -1].float().contiguous()
            out[f"prompt_{i}_input_ids"] = ids_t
            out[f"prompt_{i}_last_logits"] = logits
            top = torch.topk(torch.log_softmax(logits, -1), 5)
            shown = ", ".join(f"{tok.decode([int(t)])!r} ({int(t)}, p={v.exp().item():.3f})" for v, t in zip(top.values, top.indices))
            print(f"prompt {i} ({len(ids_t)} tokens): top-5 next: {shown}")
    path = os.path.join(llm_dir, "smollm2_reference.safetensors")
    save_file(out, path, metadata={"format": "pt"})
    print(f"smollm2_reference.safetensors: {os.path.getsize(path)} bytes; "
          f"smollm2_gguf_tokenizer.json: {os.path.getsize(os.path.join(llm_dir, 'smollm2_gguf_tokenizer.json'))} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smollm2", action="store_true", help="only make the SmolLM2 GGUF references")
    ap.add_argument("--all", action="store_true", help="make both the tiny model and SmolLM2 references")
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    if args.all or not args.smollm2:
        make_tiny()
    if args.all or args.smollm2:
        make_smollm2()


if __name__ == "__main__":
    main()
