#!/usr/bin/env bash
# Runs the WVS side of the workspace (catalog figures, a synthetic survey over the full and the
# mini metadata, conversion, evaluation set and probe tasks, baselines polar and refined with the
# Bayes ceiling, training sets, the default `reproduce` plan) with the example binaries of two
# checkouts, and diffs what they wrote. For refactors that must leave every figure unchanged.
#
#   bash scripts/compare_checkouts.sh OLD_CHECKOUT NEW_CHECKOUT OUT_DIR
#
# Each checkout must have its examples built (`cargo build --examples`, dev profile); the
# authors' metadata comes from INDIEVALUE_META_DIR (default ../shared/indievalue-meta).
set -euo pipefail
old=$(cd "$1" && pwd); new=$(cd "$2" && pwd); out=$3
meta=${INDIEVALUE_META_DIR:-$new/../shared/indievalue-meta}
meta=$(cd "$meta" && pwd)
run() {
    local root=$1 dest=$2 b=$1/target/debug/examples
    local convert=$b/convert; [ -x "$convert" ] || convert=$b/convert_wvs
    rm -rf "$dest"; mkdir -p "$dest"
    (
        cd "$root"
        for which in full mini; do
            if [ $which = full ]; then md=$meta; n=20000; else md=$root/fixtures/mini-meta; n=6000; fi
            o=$dest/$which; mkdir -p "$o"
            "$b/catalog_stats" --meta "$md" --json > "$o/catalog_stats.json"
            "$b/synth_wvs" --meta "$md" --people $n --seed 1 --out "$o/wvs.csv" > /dev/null
            "$convert" --wvs "$o/wvs.csv" --meta "$md" --out "$o/data" --json > "$o/convert.json"
            "$b/sample_tasks" --data "$o/data" --meta "$md" --out "$o/tasks" --seed 0 --json > "$o/sample.json"
            "$b/baselines" --data "$o/data" --tasks "$o/tasks" --meta "$md" --out "$o/results" \
                --model "$o/wvs.csv.model.json" --json > "$o/baselines.json"
            "$b/baselines" --data "$o/data" --tasks "$o/tasks" --meta "$md" --out "$o/results-refined" \
                --granularity refined --json > "$o/baselines-refined.json"
            "$b/build_training_set" --data "$o/data" --meta "$md" --eval-ids "$o/tasks/eval_ids.txt" \
                --n-per-question 4 --recipe p+r:mixed+200 --out "$o/train.jsonl" > /dev/null
            "$b/build_training_set" --data "$o/data" --meta "$md" --eval-ids "$o/tasks/eval_ids.txt" \
                --n-per-question 2 --recipe p:20 --format messages --out "$o/train-messages.jsonl" > /dev/null
        done
        env -u INDIEVALUE_META_DIR "$b/reproduce" --out "$dest/reproduce" > "$dest/reproduce.log" 2>&1
    )
}
run "$old" "$out/old"
run "$new" "$out/new"
# Byte-compare every file but the timing-bearing ones; list what differs.
cd "$out"
diff -rq old new | grep -v -e 'seconds' -e 'manifest.json' -e 'reproduce.log' -e '/store' || true
