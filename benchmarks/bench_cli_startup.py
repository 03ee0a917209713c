"""CLI start-up: wall time of ``tailorcrm --help`` and light commands, in fresh processes.

Goal (issue 10): ``tailorcrm --help`` and light commands start in at most 1 s. The peer is a
bare ``python -c pass`` (the interpreter's own start), measured in the same run; the figure
is the median of repeated runs (each a new process, as a shell would start it).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from results_io import machine, write_results

REPEATS = 7
GOAL_S = 1.0
EXE = str(Path(sys.executable).with_name("tailorcrm"))


def _median(argv: list[str], env: dict[str, str]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "TAILORCRM_DATABASE_URL": f"sqlite:///{folder}/cli.db"}
        subprocess.run([EXE, "tenants", "create", "acme"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        cases = {
            "python -c pass (peer: the interpreter)": [sys.executable, "-c", "pass"],
            "tailorcrm --help": [EXE, "--help"],
            "tailorcrm keys --help": [EXE, "keys", "--help"],
            "tailorcrm tenants list": [EXE, "tenants", "list"],
            "tailorcrm keys list --tenant acme": [EXE, "keys", "list", "--tenant", "acme"],
            "tailorcrm train --help": [EXE, "train", "--help"],
        }
        seconds = {name: round(_median(argv, env), 3) for name, argv in cases.items()}
    load = os.getloadavg()[0]
    result = {"machine": machine(), "repeats": REPEATS, "goal_seconds": GOAL_S,
              "median_seconds": seconds, "load_average_1min": round(load, 2)}
    lines = ["## CLI start-up", "",
             "`benchmarks/bench_cli_startup.py`: median wall time of "
             f"{REPEATS} fresh processes each. Goal: `tailorcrm --help` and light commands "
             f"≤ {GOAL_S:g} s. Load average during the run: {load:.2f}.", "",
             "| command | median s | vs goal |", "|---|---:|---|"]
    for name, value in seconds.items():
        verdict = "" if name.startswith("python") else ("met" if value <= GOAL_S else "NOT met")
        lines.append(f"| `{name}` | {value:.3f} | {verdict} |")
    lines.append("")
    lines.append("Commands that load a tenant's data or train import pandas, SciPy and the "
                 "models when they run; the command table itself imports none of them "
                 "(`cli/main.py`, checked by `tests/cli/test_cli_startup.py`).")
    write_results("cli_startup", result, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
