#!/usr/bin/env python3
"""Makes the fine-tuning parity fixtures in fixtures/finetune with PyTorch + transformers + PEFT
(run by a developer, not CI), and checks adapters written by our Rust trainer against PEFT.

Install (CPU is enough; everything runs in float32 on one thread):

    python3 -m venv .cache/pyenv-trainer
    .cache/pyenv-trainer/bin/pip install torch transformers peft safetensors numpy

Default mode: from the tiny random Llama-3.1-shaped model in fixtures/llm/tiny-llama31 (made by
scripts/make_llama_parity_fixture.py, loaded, never regenerated) write into fixtures/finetune/:

- examples.json: 4 pre-tokenized examples (lengths 9, 14, 6, 11), Hugging Face label alignment
  (labels same length as input_ids, not shifted; -100 on a prompt prefix).
- lora/: a PEFT LoRA adapter with non-zero A and B (r 4, alpha 8, all seven Llama projections)
  saved by PEFT's save_pretrained (init_adapter/), 4 hand-written optimizer steps with the
  Hugging Face Trainer's arithmetic (summed token cross-entropy / supervised-token count,
  torch AdamW, clip_grad_norm_, linear warmup LambdaLR) on one batch of all 4 examples,
  expected.json (per-step loss, pre-clip grad norm, lr), final_adapter/ (PEFT save_pretrained),
  logits.safetensors (base, base+init adapter, base+final adapter on each unpadded example).
  The same run with 2 unequal micro-batches per step (gradient accumulation) must give the same
  final weights (checked here, max difference recorded in expected.json).
- full/: 3 AdamW steps of full fine-tuning (no weight decay on norm weights, as the Trainer does),
  expected.json and final.safetensors (Hugging Face parameter names), logits.safetensors.
- README.md describing all of it.

    .cache/pyenv-trainer/bin/python scripts/make_trainer_parity_fixture.py

--ours DIR: load an adapter directory written by our Rust code (adapter_config.json +
adapter_model.safetensors in PEFT layout) with `PeftModel.from_pretrained(base, DIR)`, check that
PEFT really applied it (every tensor in the file landed in the model, no LoRA weight of the model
left unset, logits differ from the base model's by more than 1e-3; else exit non-zero), and write
DIR/peft_logits.safetensors with the float32 logits on the examples of examples.json
(`peft_logits_{i}`, plus `base_logits_{i}` and `input_ids_{i}`).

    .cache/pyenv-trainer/bin/python scripts/make_trainer_parity_fixture.py --ours path/to/adapter
"""
import argparse
import json
import math
import os
import shutil
import sys

import torch

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tiny_dir = os.path.join(root, "fixtures", "llm", "tiny-llama31")
out_dir = os.path.join(root, "fixtures", "finetune")
# Written into adapter_config.json instead of this machine's absolute path.
BASE_REL = "fixtures/llm/tiny-llama31"

SEED = 20240601
LENGTHS = [9, 14, 6, 11]
PROMPT_LENGTHS = [4, 6, 2, 5]  # -100 on these many leading label positions
PAD_ID = 0
IGNORE = -100
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

LORA = dict(
    r=4,
    lora_alpha=8,
    init_scale=0.1,  # lora_A, lora_B <- N(0, 1) * 0.1 (seeded), so both are non-zero
    steps=4,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.1,
    # Between the pre-clip norms of steps 2 (3.9475) and 3 (3.9059): steps 0-2 are clipped, step 3 is
    # not, so both branches of clip_grad_norm_ are exercised.
    max_grad_norm=3.925,
    warmup_ratio=0.3,
    micro_batches=[[0], [1, 2, 3]],
)
FULL = dict(
    steps=3,
    lr=1e-3,
    betas=(0.9, 0.999),
    eps=1e-8,
    weight_decay=0.1,
    max_grad_norm=1.0,
    warmup_ratio=0.3,
)
ACCUM_TOL = 1e-6
APPLIED_TOL = 1e-3


def setup():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def versions():
    import numpy
    import peft
    import safetensors
    import transformers

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
    }


def load_base(path=tiny_dir):
    from transformers import LlamaForCausalLM

    model = LlamaForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    if os.path.abspath(path) == os.path.abspath(tiny_dir):
        # PEFT copies this into adapter_config.json and its README.md: keep this machine's path out.
        model.config._name_or_path = BASE_REL
        model.name_or_path = BASE_REL
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.config.attention_dropout == 0.0
    model.eval()
    return model


# ----------------------------------------------------------------------------------------------
# Data


def make_examples():
    gen = torch.Generator().manual_seed(SEED)
    examples = []
    for n, k in zip(LENGTHS, PROMPT_LENGTHS):
        ids = torch.randint(3, 256, (n,), generator=gen, dtype=torch.int64).tolist()
        labels = [IGNORE] * k + ids[k:]
        examples.append({"input_ids": ids, "labels": labels})
    return examples


def collate(examples, idx):
    """Right-pads the chosen examples: pad id 0, labels -100, attention_mask 0 on padding."""
    rows = [examples[i] for i in idx]
    width = max(len(r["input_ids"]) for r in rows)
    input_ids = torch.full((len(rows), width), PAD_ID, dtype=torch.int64)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.int64)
    mask = torch.zeros((len(rows), width), dtype=torch.int64)
    for b, r in enumerate(rows):
        n = len(r["input_ids"])
        input_ids[b, :n] = torch.tensor(r["input_ids"])
        labels[b, :n] = torch.tensor(r["labels"])
        mask[b, :n] = 1
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def supervised_count(batch):
    """Targets the loss sees: labels[:, 1:] != -100 (transformers counts num_items_in_batch over the
    shifted labels; with the prompt prefix, position 0 is always -100 so the unshifted count is equal)."""
    shifted = int((batch["labels"][:, 1:] != IGNORE).sum())
    assert shifted == int((batch["labels"] != IGNORE).sum())
    return shifted


def token_loss_sum(logits, labels):
    """Summed cross-entropy of logits[:, :-1] against labels[:, 1:], ignoring -100."""
    logits = logits.float()
    shift_logits = logits[:, :-1, :].reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=IGNORE, reduction="sum")


# ----------------------------------------------------------------------------------------------
# Training loop with the Hugging Face Trainer's arithmetic


def decay_names(model):
    """The Trainer's own rule (Trainer.get_decay_parameter_names does not use `self`)."""
    from transformers import Trainer

    return set(Trainer.get_decay_parameter_names(None, model))


def train(model, micro_batches, hp):
    """`micro_batches`: the list of batches making up each optimizer step (the same every step).
    Returns per-step records; the model's parameters are updated in place."""
    from transformers import get_linear_schedule_with_warmup

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = decay_names(model)
    groups = [
        {"params": [p for n, p in named if n in decay], "weight_decay": hp["weight_decay"]},
        {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    params = [p for _, p in named]
    opt = torch.optim.AdamW(groups, lr=hp["lr"], betas=hp["betas"], eps=hp["eps"], foreach=False)
    total = hp["steps"]
    warmup = math.ceil(total * hp["warmup_ratio"])
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=warmup, num_training_steps=total)

    n_items = sum(supervised_count(b) for b in micro_batches)
    records = []
    model.train()
    for step in range(total):
        lr = sched.get_last_lr()[0]
        step_loss = 0.0
        for batch in micro_batches:
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            loss = token_loss_sum(out.logits, batch["labels"]) / n_items
            # Cross-check with transformers' own causal-LM loss (ForCausalLMLoss).
            ref = model.loss_function(out.logits, batch["labels"], vocab_size=out.logits.shape[-1],
                                      num_items_in_batch=torch.tensor(n_items))
            assert abs(ref.item() - loss.item()) <= 1e-6 * max(1.0, abs(loss.item())), (ref, loss)
            loss.backward()
            step_loss += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm=hp["max_grad_norm"], foreach=False).item()
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        clip_coef = min(1.0, hp["max_grad_norm"] / (norm + 1e-6))
        records.append({
            "step": step,
            "lr": lr,
            "loss": step_loss,
            "grad_norm": norm,
            "clipped": norm > hp["max_grad_norm"],
            "clip_coef": clip_coef,
        })
        print(f"  step {step}: lr {lr:.6g}, loss {step_loss:.9g}, grad_norm {norm:.9g}"
              f"{' (clipped, coef %.6g)' % clip_coef if norm > hp['max_grad_norm'] else ''}")
    model.eval()
    return records, {"warmup_steps": warmup, "total_steps": total, "num_items_in_batch": n_items,
                     "decay": sorted(n for n, _ in named if n in decay),
                     "no_decay": sorted(n for n, _ in named if n not in decay)}


@torch.no_grad()
def example_logits(model, examples):
    model.eval()
    return [model(input_ids=torch.tensor([e["input_ids"]])).logits[0].float().contiguous() for e in examples]


# ----------------------------------------------------------------------------------------------
# LoRA


def lora_config():
    from peft import LoraConfig

    return LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["lora_alpha"],
        lora_dropout=0.0,
        target_modules=list(TARGETS),
        bias="none",
        use_rslora=False,
        task_type="CAUSAL_LM",
    )


def make_init_adapter(path):
    from peft import get_peft_model

    model = get_peft_model(load_base(), lora_config())
    gen = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        lora = sorted((n, p) for n, p in model.named_parameters() if "lora_" in n)
        assert len(lora) == 2 * 7 * 2, [n for n, _ in lora]
        for _, p in lora:
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32) * LORA["init_scale"])
    model.peft_config["default"].base_model_name_or_path = BASE_REL
    if os.path.exists(path):
        shutil.rmtree(path)
    model.save_pretrained(path)
    return model


def load_adapter(path, trainable=False):
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_base(), path, is_trainable=trainable)
    model.eval()
    return model


def lora_state(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def save_safetensors(tensors, path):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"})


def make_lora(examples, vers):
    from safetensors import safe_open

    lora_dir = os.path.join(out_dir, "lora")
    os.makedirs(lora_dir, exist_ok=True)
    init_dir = os.path.join(lora_dir, "init_adapter")
    final_dir = os.path.join(lora_dir, "final_adapter")
    make_init_adapter(init_dir)

    hp = dict(LORA)
    print("LoRA, one batch of all 4 examples:")
    model = load_adapter(init_dir, trainable=True)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable), trainable
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    records, info = train(model, [collate(examples, [0, 1, 2, 3])], hp)
    assert not info["no_decay"], info["no_decay"]
    assert any(r["clipped"] for r in records), "clipping never triggered: lower max_grad_norm"
    assert not all(r["clipped"] for r in records), "every step clipped: raise max_grad_norm"
    margin = min(abs(r["grad_norm"] - hp["max_grad_norm"]) / hp["max_grad_norm"] for r in records)
    assert margin > 1e-3, f"a grad norm is within {margin:.1e} (relative) of max_grad_norm"
    final_state = lora_state(model)
    trained_logits = example_logits(model, examples)
    if os.path.exists(final_dir):
        shutil.rmtree(final_dir)
    model.save_pretrained(final_dir)

    print(f"LoRA, 2 micro-batches per step {hp['micro_batches']}:")
    acc_model = load_adapter(init_dir, trainable=True)
    acc_records, acc_info = train(acc_model, [collate(examples, mb) for mb in hp["micro_batches"]], hp)
    acc_state = lora_state(acc_model)
    assert acc_state.keys() == final_state.keys()
    acc_diff = max((acc_state[k] - final_state[k]).abs().max().item() for k in final_state)
    print(f"  accumulated vs one batch: max |diff| of final LoRA weights {acc_diff:.3e}")
    assert acc_diff <= ACCUM_TOL, acc_diff

    # Logits from the saved files (so the files are what produced them).
    base_logits = example_logits(load_base(), examples)
    init_logits = example_logits(load_adapter(init_dir), examples)
    final_logits = example_logits(load_adapter(final_dir), examples)
    for a, b in zip(final_logits, trained_logits):
        assert torch.equal(a, b), (a - b).abs().max()
    d_init = max((a - b).abs().max().item() for a, b in zip(init_logits, base_logits))
    d_final = max((a - b).abs().max().item() for a, b in zip(final_logits, init_logits))
    print(f"  max |init - base| logits {d_init:.4g}, max |final - init| {d_final:.4g}")
    assert d_init > APPLIED_TOL and d_final > APPLIED_TOL
    tensors = {}
    for i, e in enumerate(examples):
        tensors[f"input_ids_{i}"] = torch.tensor(e["input_ids"], dtype=torch.int64)
        tensors[f"base_logits_{i}"] = base_logits[i]
        tensors[f"init_logits_{i}"] = init_logits[i]
        tensors[f"final_logits_{i}"] = final_logits[i]
    save_safetensors(tensors, os.path.join(lora_dir, "logits.safetensors"))

    layout = {}
    for name in ["init_adapter", "final_adapter"]:
        d = os.path.join(lora_dir, name)
        with safe_open(os.path.join(d, "adapter_model.safetensors"), "pt") as f:
            keys = sorted(f.keys())
            shapes = {k: list(f.get_slice(k).get_shape()) for k in keys}
            meta = f.metadata()
        with open(os.path.join(d, "adapter_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        layout[name] = {"files": sorted(os.listdir(d)), "keys": keys, "shapes": shapes, "metadata": meta,
                        "config": cfg}
    assert layout["init_adapter"]["keys"] == layout["final_adapter"]["keys"]
    assert not any(".default" in k for k in layout["init_adapter"]["keys"])

    expected = {
        "description": "LoRA fine-tuning of fixtures/llm/tiny-llama31, starting from init_adapter/, "
                       "Hugging Face Trainer arithmetic written by hand",
        "versions": vers,
        "base_model": BASE_REL,
        "lora": {"r": hp["r"], "lora_alpha": hp["lora_alpha"], "scaling": hp["lora_alpha"] / hp["r"],
                 "lora_dropout": 0.0, "target_modules": TARGETS, "bias": "none", "use_rslora": False,
                 "task_type": "CAUSAL_LM", "init": "every lora_A/lora_B = N(0,1) * 0.1 (torch.Generator "
                 f"seed {SEED + 1}, parameters in sorted name order), then PEFT save_pretrained",
                 "trainable_parameters": n_trainable},
        "hyperparameters": {"optimizer": "torch.optim.AdamW", "lr": hp["lr"], "betas": list(hp["betas"]),
                            "eps": hp["eps"], "weight_decay": hp["weight_decay"],
                            "weight_decay_applies_to": "all LoRA parameters",
                            "max_grad_norm": hp["max_grad_norm"], "scheduler": "linear",
                            "warmup_ratio": hp["warmup_ratio"], "warmup_steps": info["warmup_steps"],
                            "total_steps": info["total_steps"], "batch": [0, 1, 2, 3],
                            "num_items_in_batch": info["num_items_in_batch"]},
        "steps": records,
        "grad_accum": {"micro_batches": hp["micro_batches"],
                       "micro_batch_supervised_tokens": [supervised_count(collate(examples, mb))
                                                         for mb in hp["micro_batches"]],
                       "num_items_in_batch": acc_info["num_items_in_batch"],
                       "steps": acc_records,
                       "max_abs_diff_final_weights_vs_one_batch": acc_diff,
                       "tolerance": ACCUM_TOL},
        "peft_saved_layout": layout["final_adapter"],
        "formulas": FORMULAS,
    }
    write_json(expected, os.path.join(lora_dir, "expected.json"))
    return expected


# ----------------------------------------------------------------------------------------------
# Full fine-tuning


def make_full(examples, vers):
    full_dir = os.path.join(out_dir, "full")
    os.makedirs(full_dir, exist_ok=True)
    hp = dict(FULL)
    print("Full fine-tuning, one batch of all 4 examples:")
    model = load_base()
    for p in model.parameters():
        p.requires_grad_(True)
    records, info = train(model, [collate(examples, [0, 1, 2, 3])], hp)
    assert info["warmup_steps"] == 1, info
    assert info["no_decay"] == sorted(n for n, _ in model.named_parameters() if "norm" in n), info["no_decay"]
    assert any(r["clipped"] for r in records), "clipping never triggered: lower max_grad_norm"
    weights = {n: p.detach().clone() for n, p in model.named_parameters()}
    path = os.path.join(full_dir, "final.safetensors")
    save_safetensors(weights, path)

    from transformers import LlamaForCausalLM  # noqa: F401  (reload check below)
    from safetensors.torch import load_file

    reloaded = load_base()
    missing, unexpected = reloaded.load_state_dict(load_file(path), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    logits = example_logits(reloaded, examples)
    base_logits = example_logits(load_base(), examples)
    d = max((a - b).abs().max().item() for a, b in zip(logits, base_logits))
    print(f"  max |final - base| logits {d:.4g}")
    tensors = {}
    for i, e in enumerate(examples):
        tensors[f"input_ids_{i}"] = torch.tensor(e["input_ids"], dtype=torch.int64)
        tensors[f"final_logits_{i}"] = logits[i]
    save_safetensors(tensors, os.path.join(full_dir, "logits.safetensors"))

    expected = {
        "description": "Full fine-tuning of fixtures/llm/tiny-llama31 (all parameters, float32), "
                       "Hugging Face Trainer arithmetic written by hand",
        "versions": vers,
        "base_model": BASE_REL,
        "hyperparameters": {"optimizer": "torch.optim.AdamW", "lr": hp["lr"], "betas": list(hp["betas"]),
                            "eps": hp["eps"], "weight_decay": hp["weight_decay"],
                            "max_grad_norm": hp["max_grad_norm"], "scheduler": "linear",
                            "warmup_ratio": hp["warmup_ratio"], "warmup_steps": info["warmup_steps"],
                            "total_steps": info["total_steps"], "batch": [0, 1, 2, 3],
                            "num_items_in_batch": info["num_items_in_batch"]},
        "weight_decay_params": info["decay"],
        "no_weight_decay_params": info["no_decay"],
        "steps": records,
        "formulas": FORMULAS,
    }
    write_json(expected, os.path.join(full_dir, "expected.json"))
    return expected


FORMULAS = {
    "loss": "sum over supervised targets of cross_entropy(logits[b, t], labels[b, t+1]) for t in 0..len-2, "
            "labels == -100 ignored, divided by num_items_in_batch = count(labels[:, 1:] != -100) over all "
            "micro-batches of the optimizer step; with accumulation each micro-batch's loss is its own sum "
            "/ num_items_in_batch of the whole step, gradients summed, 'loss' recorded = sum of the micro "
            "losses; logits in float32",
    "grad_norm": "total = sqrt(sum over trainable params of sum(g^2)), before clipping",
    "clip": "if total > max_grad_norm: g *= max_grad_norm / (total + 1e-6) (torch clip_grad_norm_: "
            "coef = min(1, max_grad_norm / (total + 1e-6)))",
    "adamw": "t += 1; p *= 1 - lr * wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; "
             "p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)  (torch.optim.AdamW, "
             "amsgrad False, m, v start at 0)",
    "lr": "lr_s = lr * (s < W ? s / max(1, W) : max(0, (T - s) / max(1, T - W))) for update s = 0..T-1, "
          "W = ceil(T * warmup_ratio) (transformers get_linear_schedule_with_warmup, a LambdaLR)",
    "step_order": "forward/backward (all micro-batches) -> clip_grad_norm_ -> optimizer.step() -> "
                  "scheduler.step() -> zero_grad",
    "lora_forward": "y = W x + lora_B(lora_A(x)) * (lora_alpha / r); A [r, in], B [out, r]",
}


def write_json(obj, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
# --ours DIR: check an adapter written by our Rust code


def check_ours(adapter_dir, base_dir, examples_path):
    from safetensors.torch import load_file

    adapter_dir = os.path.abspath(adapter_dir)
    for name in ["adapter_config.json", "adapter_model.safetensors"]:
        if not os.path.isfile(os.path.join(adapter_dir, name)):
            sys.exit(f"error: {os.path.join(adapter_dir, name)} is missing")
    with open(os.path.join(adapter_dir, "adapter_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    print("adapter_config.json:", json.dumps(cfg, sort_keys=True))
    if cfg.get("peft_type") != "LORA":
        sys.exit(f"error: peft_type is {cfg.get('peft_type')!r}, expected 'LORA'")
    with open(examples_path, encoding="utf-8") as f:
        examples = json.load(f)["examples"]

    base = load_base(base_dir)
    base_logits = example_logits(base, examples)
    del base

    model = load_adapter_untrainable(adapter_dir, base_dir)
    file_tensors = load_file(os.path.join(adapter_dir, "adapter_model.safetensors"))
    params = dict(model.named_parameters())
    problems = []
    loaded = set()
    for key, t in sorted(file_tensors.items()):
        # PEFT strips the adapter name on save: `...q_proj.lora_A.weight` is `...q_proj.lora_A.default.weight`.
        parts = key.rsplit(".", 1)
        name = f"{parts[0]}.default.{parts[1]}" if len(parts) == 2 else key
        if ".default." in key:
            problems.append(f"{key}: holds '.default' (PEFT skips such keys silently)")
            continue
        if name not in params:
            problems.append(f"{key}: no such parameter in the PEFT model (looked for {name})")
            continue
        p = params[name]
        if tuple(p.shape) != tuple(t.shape):
            problems.append(f"{key}: shape {list(t.shape)} in file, {list(p.shape)} in model")
            continue
        if not torch.equal(p.detach(), t.to(p.dtype)):
            problems.append(f"{key}: the model's tensor differs from the file's after loading")
            continue
        loaded.add(name)
    unset = sorted(n for n in params if "lora_" in n and n not in loaded)
    for n in unset:
        problems.append(f"{n}: LoRA parameter of the model not set from the file")
    if problems:
        print("error: PEFT did not apply the adapter as written:", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(f"all {len(file_tensors)} tensors of adapter_model.safetensors landed in the PEFT model")

    logits = example_logits(model, examples)
    diff = max((a - b).abs().max().item() for a, b in zip(logits, base_logits))
    print(f"max |peft - base| logits: {diff:.6g}")
    if not diff > APPLIED_TOL:
        sys.exit(f"error: logits with the adapter differ from the base model's by only {diff:.3g} "
                 f"(<= {APPLIED_TOL}): PEFT did not apply it")
    tensors = {}
    for i, e in enumerate(examples):
        tensors[f"input_ids_{i}"] = torch.tensor(e["input_ids"], dtype=torch.int64)
        tensors[f"base_logits_{i}"] = base_logits[i]
        tensors[f"peft_logits_{i}"] = logits[i]
    path = os.path.join(adapter_dir, "peft_logits.safetensors")
    save_safetensors(tensors, path)
    print(f"wrote {path}")


def load_adapter_untrainable(adapter_dir, base_dir):
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_base(base_dir), adapter_dir)
    model.eval()
    return model


# ----------------------------------------------------------------------------------------------


def write_readme(vers, lora, full):
    def steps_table(records):
        rows = ["| step | lr | loss | grad_norm (pre-clip) | clipped |", "|---|---|---|---|---|"]
        for r in records:
            rows.append(f"| {r['step']} | {r['lr']:.6g} | {r['loss']:.9g} | {r['grad_norm']:.9g} | "
                        f"{'yes' if r['clipped'] else 'no'} |")
        return "\n".join(rows)

    layout = lora["peft_saved_layout"]
    keys = layout["keys"]
    lh = lora["hyperparameters"]
    fh = full["hyperparameters"]
    acc = lora["grad_accum"]
    sizes = []
    for dirpath, _, files in sorted(os.walk(out_dir)):
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            if os.path.relpath(p, out_dir) == "README.md":
                continue
            sizes.append(f"- `{os.path.relpath(p, out_dir)}`: {os.path.getsize(p)} bytes")
    v = vers
    text = f"""# finetune

Golden fixtures for the fine-tuning trainer (LoRA and full), made by PyTorch {v['torch']},
transformers {v['transformers']}, PEFT {v['peft']}, safetensors {v['safetensors']}, numpy {v['numpy']}
(Python {v['python']}), CPU, float32, one thread, deterministic algorithms, dropout 0 everywhere.
Base model: `{BASE_REL}` (random tiny Llama-3.1 shape: vocab 256, hidden 64, 2 layers, 4 heads /
2 KV heads, head_dim 16, intermediate 96, llama3 RoPE scaling, untied lm_head), loaded as is.

Regenerate (from the repository root; also checks that accumulation matches, that clipping
triggers and that the saved files reproduce the logits):

    python3 -m venv .cache/pyenv-trainer
    .cache/pyenv-trainer/bin/pip install torch transformers peft safetensors numpy
    .cache/pyenv-trainer/bin/python scripts/make_trainer_parity_fixture.py

Check an adapter written by our Rust code with PEFT (writes `DIR/peft_logits.safetensors`):

    .cache/pyenv-trainer/bin/python scripts/make_trainer_parity_fixture.py --ours DIR

## examples.json

`{{"pad_id": 0, "ignore_index": -100, "examples": [{{"input_ids": [...], "labels": [...]}}, ...]}}`:
4 examples of lengths {LENGTHS} (ids uniform in 3..255, torch.Generator seed {SEED}); labels have the
same length as input_ids (not shifted, Hugging Face alignment), -100 on the first {PROMPT_LENGTHS}
positions (the prompt), equal to input_ids after. Batching: examples in the given order,
right-padded to the longest with pad id 0, labels padded with -100, attention_mask 1 on tokens and
0 on padding; no position_ids passed (0..n-1 per row). Supervised targets
(`labels[:, 1:] != -100`): {acc['micro_batch_supervised_tokens'][0]} + {acc['micro_batch_supervised_tokens'][1]} = {lh['num_items_in_batch']}
(transformers {v['transformers']} counts `num_items_in_batch` on `labels[..., 1:]`; position 0 is
always -100 here, so the unshifted count is the same).

## Formulas (the Hugging Face Trainer's arithmetic, written by hand)

""" + "\n".join(f"- {k}: {s}" for k, s in FORMULAS.items()) + f"""

The lr of a step is the lr its update used (`get_last_lr()` before `optimizer.step()`); the loss is
that step's forward, before its update. Gradient norm over all trainable parameters
(`clip_grad_norm_`, foreach off); `grad_norm` is the pre-clip norm. AdamW param groups as the
Trainer builds them (`Trainer.get_decay_parameter_names`: no decay on names matching `bias`,
`layernorm`, `rmsnorm`, `(^|.)norm($|.)`, `_norm`).

## lora/

- `init_adapter/`: the starting adapter, written by PEFT's `save_pretrained` (LoraConfig r
  {lora['lora']['r']}, lora_alpha {lora['lora']['lora_alpha']} (scaling {lora['lora']['scaling']}), lora_dropout 0.0, target_modules
  {TARGETS}, bias "none", use_rslora false, task_type CAUSAL_LM), every lora_A and lora_B set to
  N(0, 1) * 0.1 (Generator seed {SEED + 1}, parameters in sorted name order) so both are non-zero.
  `base_model_name_or_path` is set to `{BASE_REL}` (relative to the repository root).
- `final_adapter/`: the same after the 4 steps (PEFT `save_pretrained`).
- Files in each: {layout['files']} (`README.md` is PEFT's model card, written by `save_pretrained`).
  `adapter_model.safetensors`: {len(keys)} float32 tensors, metadata {layout['metadata']}, keys
  `base_model.model.model.layers.{{i}}.{{self_attn.{{q,k,v,o}}_proj | mlp.{{gate,up,down}}_proj}}.lora_{{A,B}}.weight`
  (no `.default`), A `[r, in]`, B `[out, r]`: q/o A [4, 64] B [64, 4]; k/v A [4, 64] B [32, 4];
  gate/up A [4, 64] B [96, 4]; down A [4, 96] B [64, 4]. {lora['lora']['trainable_parameters']} trainable parameters.
- `adapter_config.json` keys PEFT {v['peft']} wrote: {sorted(layout['config'].keys())}.
- Run: {lh['total_steps']} optimizer steps on one batch of all 4 examples; AdamW lr {lh['lr']}, betas
  {tuple(lh['betas'])}, eps {lh['eps']}, weight_decay {lh['weight_decay']} on every LoRA parameter,
  max_grad_norm {lh['max_grad_norm']}, linear schedule, warmup_ratio {lh['warmup_ratio']} -> warmup
  {lh['warmup_steps']} of {lh['total_steps']} (the first update uses lr 0).

{steps_table(lora['steps'])}

- Gradient accumulation: the same run with micro-batches {acc['micro_batches']} per step
  ({acc['micro_batch_supervised_tokens']} supervised targets, each micro-batch's summed loss divided by the step's
  {acc['num_items_in_batch']}), each padded to its own longest row: final LoRA weights equal the one-batch
  run's within {acc['max_abs_diff_final_weights_vs_one_batch']:.3e} (max abs difference; tolerance {acc['tolerance']}). Compare a Rust
  accumulated run against `final_adapter/`.

{steps_table(acc['steps'])}

- `expected.json`: `versions`, `lora` (adapter settings), `hyperparameters`, `steps`
  (per step `step`, `lr`, `loss`, `grad_norm`, `clipped`, `clip_coef`), `grad_accum` (same records
  for the accumulated run, the max difference), `peft_saved_layout` (files, keys, shapes, metadata,
  config of `final_adapter/`), `formulas`.
- `logits.safetensors`: for each example i in 0..3, `input_ids_{{i}}` (int64 [n]) and float32 [n, 256]
  logits on the unpadded example: `base_logits_{{i}}` (base model), `init_logits_{{i}}` (base +
  init_adapter), `final_logits_{{i}}` (base + final_adapter); computed from the saved files with
  `PeftModel.from_pretrained`, eval mode.

## full/

- Run: all parameters trainable, float32, {fh['total_steps']} steps on one batch of all 4 examples; AdamW
  lr {fh['lr']}, betas {tuple(fh['betas'])}, eps {fh['eps']}, weight_decay {fh['weight_decay']} on every
  parameter except {len(full['no_weight_decay_params'])} norm weights (`model.layers.{{i}}.input_layernorm.weight`,
  `model.layers.{{i}}.post_attention_layernorm.weight`, `model.norm.weight`; embeddings and lm_head
  are decayed), max_grad_norm {fh['max_grad_norm']}, linear schedule, warmup_ratio {fh['warmup_ratio']} -> warmup
  {fh['warmup_steps']} of {fh['total_steps']}.

{steps_table(full['steps'])}

- `final.safetensors`: the weights after the 3 steps, float32, Hugging Face names
  (`model.embed_tokens.weight`, `model.layers.{{i}}.self_attn.q_proj.weight`, ..., `model.norm.weight`,
  `lm_head.weight`), same names and shapes as `{BASE_REL}/model.safetensors`.
- `logits.safetensors`: `input_ids_{{i}}` (int64 [n]), `final_logits_{{i}}` (float32 [n, 256]) of the final
  weights on each unpadded example.
- `expected.json`: `versions`, `hyperparameters`, `weight_decay_params`, `no_weight_decay_params`,
  `steps`, `formulas`.

## Notes

- Steps 0 and 1 show the same loss and gradient norm: update 0 uses lr 0 (warmup), so it changes no
  weight (decay is `lr * wd` = 0 too) but still feeds Adam's moments and step count.
- Losses and norms are Python floats of float32 results; the accumulated run differs from the
  one-batch run by summation order only (about 1e-6 relative in loss and norm).
- LoRA `max_grad_norm` {lh['max_grad_norm']} sits between the pre-clip norms of steps 2 and 3, so both branches of
  clipping are exercised (the script asserts a margin > 0.1 %); the full run clips every step.
- PEFT writes `target_modules` from a Python set: the script re-executes itself with
  `PYTHONHASHSEED=0` so the order in `adapter_config.json` (and so its bytes) is stable. Readers must
  treat it as a set. PEFT also writes `inference_mode: true` and `init_lora_weights: true` (the
  weights come from the file anyway) and many optional keys: accept unknown keys.
- PEFT {v['peft']} loads a file whose keys still hold `.default` without any warning and leaves the
  adapter at its init (B = 0: no effect); `--ours` checks every file tensor against the loaded model.
- `--ours DIR` needs `adapter_config.json` with `peft_type` "LORA" and explicit `target_modules`
  (absent, PEFT targets only q_proj and v_proj and the other keys find no parameter); it fails if a
  file tensor does not land in the model, if a LoRA weight of the model is not set from the file,
  or if logits move by <= {APPLIED_TOL} from the base model's; `peft_logits.safetensors` holds
  `input_ids_{{i}}`, `base_logits_{{i}}`, `peft_logits_{{i}}` (float32 [n, 256]). Run on a copy of
  `lora/final_adapter/`, its `peft_logits_{{i}}` equal `lora/logits.safetensors`'s `final_logits_{{i}}` bit for bit.
- Each run reproduces every file byte for byte (checked by running the script twice).

## Sizes

""" + "\n".join(sizes) + "\n"
    with open(os.path.join(out_dir, "README.md"), "w", encoding="utf-8") as f:
        f.write(text)


def make_all():
    vers = versions()
    print("versions:", json.dumps(vers))
    os.makedirs(out_dir, exist_ok=True)
    examples = make_examples()
    with open(os.path.join(out_dir, "examples.json"), "w", encoding="utf-8") as f:
        rows = ",\n".join("  " + json.dumps(e) for e in examples)
        f.write(f'{{"pad_id": {PAD_ID}, "ignore_index": {IGNORE}, "examples": [\n{rows}\n]}}\n')
    with open(os.path.join(out_dir, "examples.json"), encoding="utf-8") as f:
        assert json.load(f)["examples"] == examples
    lora = make_lora(examples, vers)
    full = make_full(examples, vers)
    write_readme(vers, lora, full)
    total = 0
    for dirpath, _, files in sorted(os.walk(out_dir)):
        for name in sorted(files):
            p = os.path.join(dirpath, name)
            total += os.path.getsize(p)
            print(f"  {os.path.relpath(p, out_dir)}: {os.path.getsize(p)} bytes")
    print(f"fixtures/finetune total: {total} bytes")
    assert total < 1024 * 1024, "fixtures exceed 1 MB"


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # PEFT writes target_modules from a Python set: fix string hashing so adapter_config.json
        # lists them in the same order on every run.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ours", metavar="DIR", help="check an adapter directory written by our Rust code")
    ap.add_argument("--base", metavar="DIR", default=tiny_dir, help="base model for --ours (default: %(default)s)")
    ap.add_argument("--examples", metavar="FILE", default=os.path.join(out_dir, "examples.json"),
                    help="examples for --ours (default: %(default)s)")
    args = ap.parse_args()
    setup()
    if args.ours:
        check_ours(args.ours, args.base, args.examples)
    else:
        make_all()


if __name__ == "__main__":
    main()
