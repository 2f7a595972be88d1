#!/usr/bin/env python3
"""Full fine-tuning of the IndieValueReasoner past one GPU with TRL's SFTTrainer.

Reads a training set that `build_training_set --format prompt-completion` wrote (conversational
prompt-completion: the C.1 prompt as the user turn, `Option k: statement` as the assistant turn)
and trains with the paper's Table 17 settings: bf16, 2 epochs, lr 5e-6, linear schedule, warmup
ratio 0.03, weight decay 0, at most 4,096 tokens, 8 examples per optimizer step, gradient
checkpointing, loss on the completion only (TRL's `completion_only_loss`, so no assistant-mask
template markers are needed; Llama-3.1's chat template has none).

One machine, eight GPUs (DeepSpeed ZeRO-3 or FSDP through an accelerate config):

    accelerate launch --num_processes 8 --config_file zero3.yaml scripts/sft_trl.py \
        --model meta-llama/Llama-3.1-8B-Instruct --train train.jsonl --out runs/reasoner-trl

The output directory holds config.json, tokenizer.json and safetensors shards: evaluate it with
`cargo run --release --features cuda --example probe -- --model runs/reasoner-trl ...
--mode score --score-target label`. `--max-steps`, `--no-bf16` and `--max-length` exist for a
smoke test on a CPU with a small model.
"""

import argparse
import dataclasses
import json
import os
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="Hugging Face model id or directory")
    parser.add_argument("--train", required=True, help="prompt-completion JSON Lines file")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--lr", type=float, default=5e-6)
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=8, help="examples per optimizer step")
    parser.add_argument("--per-device-batch", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=-1)
    parser.add_argument("--no-bf16", action="store_true", help="f32 (CPUs without bf16)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    with open(args.train, encoding="utf-8") as f:
        first = json.loads(f.readline())
    if "prompt" not in first or "completion" not in first:
        print(f"{args.train}: not a prompt-completion file (write it with "
              "build_training_set --format prompt-completion)", file=sys.stderr)
        return 2

    world = int(os.environ.get("WORLD_SIZE", "1"))
    per_step = world * args.per_device_batch
    if args.batch_size % per_step != 0:
        print(f"--batch-size {args.batch_size} is not a multiple of {per_step} "
              "(processes x per-device batch)", file=sys.stderr)
        return 2

    data = load_dataset("json", data_files=args.train, split="train")
    data = data.select_columns(["prompt", "completion"])

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(
        args.model, dtype="float32" if args.no_bf16 else "bfloat16")

    # transformers 5 takes the warmup ratio as a float warmup_steps; 4.x has warmup_ratio.
    fields = {f.name for f in dataclasses.fields(SFTConfig)}
    warmup = {"warmup_ratio": 0.03} if "warmup_ratio" in fields else {"warmup_steps": 0.03}
    config = SFTConfig(
        **warmup,
        output_dir=args.out,
        num_train_epochs=args.epochs,
        max_steps=args.max_steps,
        learning_rate=args.lr,
        lr_scheduler_type="linear",
        weight_decay=0.0,
        max_length=args.max_length,
        per_device_train_batch_size=args.per_device_batch,
        gradient_accumulation_steps=args.batch_size // per_step,
        gradient_checkpointing=True,
        bf16=not args.no_bf16,
        completion_only_loss=True,
        packing=False,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=args.seed,
    )
    trainer = SFTTrainer(model=model, args=config, train_dataset=data,
                         processing_class=tokenizer)
    trainer.train()
    trainer.save_model(args.out)
    tokenizer.save_pretrained(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
