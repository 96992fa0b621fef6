"""Run every benchmark in turn (``make bench``); each prints its own table with ratios
against plain tiktoken measured in the same run. ``--quick`` uses smaller inputs."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller inputs, fewer repetitions")
    args = ap.parse_args()
    quick = args.quick
    runs = [
        [
            "bench_foundation.py",
            *(["--size-mb", "16", "--edit-mb", "4", "--reps", "1"] if quick else []),
        ],
        ["bench_loop.py", *(["--mb", "10"] if quick else [])],
        ["bench_references.py", *(["--rounds", "1"] if quick else [])],
        ["bench_scan.py", *(["--rounds", "2"] if quick else [])],
        ["bench_lsp.py", *(["--quick"] if quick else [])],
        ["bench_cli.py", *(["--quick"] if quick else [])],
    ]
    failed = []
    for script, *rest in runs:
        print(f"\n===== {script} {' '.join(rest)}", flush=True)
        start = time.monotonic()
        rc = subprocess.call([sys.executable, str(HERE / script), *rest])
        print(f"===== {script}: exit {rc}, {time.monotonic() - start:.0f} s", flush=True)
        if rc:
            failed.append(script)
    if failed:
        print(f"\nexited non-zero: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
