"""What every benchmark writes: ``results/<name>.json`` and its ``.md`` section, and the machine."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """The cores and Python version a result was measured with."""
    return {"cores": os.cpu_count(), "python": platform.python_version()}


def write_results(name: str, result: dict[str, Any], markdown: str) -> None:
    """Write ``<name>.json`` and the ``<name>.md`` section ``run_all.py`` stitches."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
