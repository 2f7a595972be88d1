#!/usr/bin/env bash
# Installs llama.cpp's own HTTP server (the prebuilt `xllamacpp` wheel from PyPI, which runs
# llama-server inside a Python process) into an ignored virtual environment, once: the remote
# backend's tests serve SmolLM2 with it on 127.0.0.1. Idempotent. Override the place with
# INDIEVALUE_LLAMA_SERVER_ENV.
set -euo pipefail
cd "$(dirname "$0")/.."
env_dir="${INDIEVALUE_LLAMA_SERVER_ENV:-.cache/llama-server}"
version="2026.10.11549"
if [ -x "$env_dir/bin/python" ] && "$env_dir/bin/python" -c "import xllamacpp" 2>/dev/null; then
    exit 0
fi
python3 -m venv "$env_dir"
"$env_dir/bin/python" -m pip install --quiet --disable-pip-version-check "xllamacpp==$version"
"$env_dir/bin/python" -c "import xllamacpp"
