"""The command starts light: ``--help`` and its command table import none of the heavy
libraries (their import took seconds); a command imports them when it runs. The times are
measured in benchmarks/bench_cli_startup.py, not asserted here."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from tailorcrm.cli.main import COMMANDS, app

HEAVY = ("pandas", "sklearn", "scipy", "lightgbm", "implicit", "tailorcrm.store")


def _imported_after(args: list[str]) -> set[str]:
    code = ("import sys\nfrom tailorcrm.cli.main import app\n"
            f"try:\n    app({args!r})\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(m for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")[-2]
    return set(out.split())


def test_help_imports_no_heavy_library() -> None:
    loaded = _imported_after(["--help"])
    assert not {m for m in loaded for h in HEAVY if m == h or m.startswith(h + ".")}


def test_a_command_imports_its_module_when_it_runs() -> None:
    loaded = _imported_after(["schema", "--help"])
    assert "tailorcrm.cli.schema" in loaded and "tailorcrm.cli.demo" not in loaded


def test_every_listed_command_loads_and_has_help() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0
    for name in COMMANDS:
        assert name in listing.output
        shown = runner.invoke(app, [name, "--help"])
        assert shown.exit_code == 0, (name, shown.output)
