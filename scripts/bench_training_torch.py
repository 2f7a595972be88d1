#!/usr/bin/env python3
"""The PyTorch side of the training speed bench (scripts/bench_training.sh runs both sides).

Trains SmolLM2-135M-Instruct (the GGUF file dequantized to float32 by transformers) as a new user
of PyTorch + PEFT would: LoRA (r 16, alpha 32, all seven Llama projections) or every weight,
AdamW, one example of the given JSON Lines file per step (`input_ids`, `labels` with -100 on the
unsupervised prefix), the model called with labels (transformers' causal-LM loss), eager mode.
Prints one JSON line per mode: per-step seconds and tokens/s, the median of the steps after the
warm-up ones, and the versions.

    .cache/pyenv-trainer/bin/python scripts/bench_training_torch.py --gguf FILE --data FILE \
        [--mode lora full] [--steps 4] [--warmup 1] [--threads 2]
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--mode", nargs="+", default=["lora", "full"])
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lr", type=float, default=1e-5)
    a = p.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    import peft
    import transformers
    from transformers import AutoModelForCausalLM

    examples = [json.loads(line) for line in open(a.data)]
    directory, name = os.path.split(os.path.abspath(a.gguf))
    for mode in a.mode:
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=name, dtype=torch.float32
        )
        model.train()
        if mode == "lora":
            config = peft.LoraConfig(
                r=16,
                lora_alpha=32,
                lora_dropout=0.0,
                target_modules=[
                    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                ],
                task_type="CAUSAL_LM",
            )
            model = peft.get_peft_model(model, config)
        params = [q for q in model.parameters() if q.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
        seconds, tokens = [], []
        for step in range(a.warmup + a.steps):
            e = examples[step % len(examples)]
            ids = torch.tensor([e["input_ids"]])
            labels = torch.tensor([e["labels"]])
            start = time.perf_counter()
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seconds.append(time.perf_counter() - start)
            tokens.append(ids.shape[1])
        measured = list(zip(seconds, tokens))[a.warmup:]
        per_s = [t / s for s, t in measured]
        print(json.dumps({
            "side": "pytorch",
            "mode": mode,
            "threads": a.threads,
            "trainable_parameters": sum(q.numel() for q in params),
            "step_seconds": [round(s, 3) for s in seconds],
            "tokens_per_s": per_s,
            "median_tokens_per_s": statistics.median(per_s),
            "versions": {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "peft": peft.__version__,
                "python": sys.version.split()[0],
            },
        }), flush=True)
        del model, optimizer


if __name__ == "__main__":
    main()
