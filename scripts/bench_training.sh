#!/usr/bin/env bash
# Training speed, ours against PyTorch + PEFT, side by side in one run: SmolLM2-135M-Instruct
# (the GGUF file dequantized to f32 by each side), one 1,024-token example per step (loss on
# the second half), 2 threads, LoRA (r 16, alpha 32, all seven projections) and full
# fine-tuning. Each side runs WARMUP + STEPS optimizer steps per mode and reports the median
# tokens/s of the steps after the warm-up; the modes alternate between the sides so that a
# slow spell of the machine hits both. Our side also reports its peak memory and the plan's.
#
#   bash scripts/fetch_models.sh
#   python3 -m venv .cache/pyenv-trainer && .cache/pyenv-trainer/bin/pip install torch transformers peft gguf
#   bash scripts/bench_training.sh            # STEPS=5 WARMUP=1 THREADS=2 OUT=target/bench-training
#
# Writes OUT/bench.json (figures, versions, machine) and prints a table.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${STEPS:-5}"
warmup="${WARMUP:-1}"
threads="${THREADS:-2}"
out="${OUT:-target/bench-training}"
python="${PYTHON:-.cache/pyenv-trainer/bin/python}"
model=".cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
[ -s "$model" ] || { echo "run scripts/fetch_models.sh first" >&2; exit 1; }
[ -x "$python" ] || { echo "no Python with torch at $python (see the header)" >&2; exit 1; }
mkdir -p "$out"
data="$out/train1024.jsonl"
"$python" - "$data" <<'PY'
import json, random, sys
r = random.Random(20261202)
with open(sys.argv[1], "w") as f:
    for _ in range(8):
        ids = [r.randrange(100, 49000) for _ in range(1024)]
        f.write(json.dumps({"input_ids": ids, "labels": [-100] * 512 + ids[512:]}) + "\n")
PY
cargo build --release --example finetune >&2
export RAYON_NUM_THREADS="$threads" OMP_NUM_THREADS="$threads"
total=$((warmup + steps))
results="$out/results.jsonl"
: > "$results"
for mode in lora full; do
    run="$out/ours-$mode"
    rm -rf "$run"
    flag=""
    [ "$mode" = full ] && flag="--full"
    target/release/examples/finetune --model "$model" --train "$data" --out "$run" --lr 1e-5 \
        --max-steps "$total" --no-shuffle $flag > "$run.log" 2>&1
    "$python" - "$run" "$mode" "$warmup" "$threads" >> "$results" <<'PY'
import json, statistics, sys
run, mode, warmup, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
steps = [json.loads(l) for l in open(run + "/metrics.jsonl")]
steps = [s for s in steps if "tokens_per_s" in s]
rates = [s["tokens_per_s"] for s in steps[warmup:]]
planned = [l for l in open(run + ".log") if l.startswith("peak memory")]
print(json.dumps({"side": "ours", "mode": mode, "threads": threads, "tokens_per_s": rates,
    "median_tokens_per_s": statistics.median(rates),
    "peak_memory_bytes": max(s.get("peak_memory_bytes", 0) for s in steps),
    "memory_line": planned[0].strip() if planned else None}))
PY
    "$python" scripts/bench_training_torch.py --gguf "$model" --data "$data" --mode "$mode" \
        --steps "$steps" --warmup "$warmup" --threads "$threads" 2>/dev/null >> "$results"
done
"$python" - "$results" "$out/bench.json" <<'PY'
import json, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
report = {"machine": {"cpu": cpu, "cores": __import__("os").cpu_count(), "system": platform.platform()},
          "rustc": subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip(),
          "results": rows}
json.dump(report, open(sys.argv[2], "w"), indent=1)
print(f"{'mode':<6} {'ours tok/s':>11} {'PyTorch tok/s':>14} {'ratio':>6}   ours' memory")
for mode in ("lora", "full"):
    ours = next(r for r in rows if r["side"] == "ours" and r["mode"] == mode)
    torch = next(r for r in rows if r["side"] == "pytorch" and r["mode"] == mode)
    a, b = ours["median_tokens_per_s"], torch["median_tokens_per_s"]
    print(f"{mode:<6} {a:>11.1f} {b:>14.1f} {a / b:>6.2f}   {ours['memory_line']}")
print(f"{cpu}, {report['machine']['cores']} cores; written to {sys.argv[2]}")
PY
