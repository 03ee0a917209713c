"""Run every ``benchmarks/bench_*.py`` in turn and stitch their sections into docs/benchmarks.md.

Each benchmark writes ``benchmarks/results/<name>.json`` and ``<name>.md``; this script only
orchestrates, so one benchmark can also be run alone. ``--only NAME`` runs a subset,
``--stitch`` only rebuilds the document from results already on disk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE.parent / "docs" / "benchmarks.md"

HEADER = """# Benchmarks

Every figure here is produced by `make bench` (which runs `benchmarks/run_all.py`) on the
project's machine kind: {cores} CPU cores, {mem} memory, Python {py}. Each section names the
script that produced it; run one alone with `.venv/bin/python benchmarks/bench_<name>.py`.
Peers (anchors) are measured in the same run where they can run here and reported as ratios.
Hyper-parameters and defaults are chosen on validation data carved from training data only.
Raw results: `benchmarks/results/*.json`. Last stitched: {when}.
"""


def _memory() -> str:
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        return f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def stitch() -> None:
    """Rebuild docs/benchmarks.md from the .md sections in benchmarks/results/."""
    order = ["ingest", "movielens", "ratings", "online_retail_recs", "needs-telco",
             "needs-online-retail", "serving"]
    sections = sorted(RESULTS.glob("*.md"), key=lambda p: (
        order.index(p.stem) if p.stem in order else len(order), p.stem))
    header = HEADER.format(cores=os.cpu_count(), mem=_memory(), py=platform.python_version(),
                           when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
    body = "\n\n".join(p.read_text().strip() for p in sections)
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(header + "\n" + body + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names (bench_<name>)")
    parser.add_argument("--stitch", action="store_true", help="only rebuild docs/benchmarks.md")
    args = parser.parse_args()
    failed: list[str] = []
    if not args.stitch:
        RESULTS.mkdir(parents=True, exist_ok=True)
        for script in sorted(HERE.glob("bench_*.py")):
            name = script.stem.removeprefix("bench_")
            if args.only and name not in args.only:
                continue
            print(f"== {script.name}", flush=True)
            if subprocess.run([sys.executable, str(script)], check=False).returncode != 0:
                failed.append(script.name)
    stitch()
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
