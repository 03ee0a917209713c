"""``tailorcrm evaluate`` through the real Typer app."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tailorcrm.cli.main import app


def _write_movielens(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    lines = []
    for user in range(1, 61):
        cluster = user % 3
        for item in rng.choice(10, size=7, replace=False):
            rating = int(rng.integers(1, 6))
            lines.append(f"{user}\t{cluster * 10 + item + 1}\t{rating}\t{880000000 + len(lines)}")
    path.write_text("\n".join(lines) + "\n")


def test_evaluate_writes_the_json_document(tmp_path: Path) -> None:
    data = tmp_path / "u.data"
    _write_movielens(data)
    out = tmp_path / "out" / "result.json"
    args = ["--interactions", str(data), "--format", "movielens", "--protocol",
            "stratified-item", "--ratio", "0.75", "--seed", "42", "--k", "10",
            "--json", str(out), "--models", "ease,popularity", "--no-default"]
    commands = getattr(app, "registered_commands", [])
    if len(commands) + len(getattr(app, "registered_groups", [])) > 1:
        args = ["evaluate", *args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert doc["dataset"] == "u.data" and doc["protocol"] == "stratified-item"
    assert doc["k"] == 10
    assert set(doc["models"]) == {"ease", "popularity"}
    for row in doc["models"].values():
        for key in ("ndcg@10", "precision@10", "recall@10", "map", "train_seconds",
                    "recommend_seconds"):
            assert 0.0 <= row[key] < float("inf")
    assert doc["models"]["ease"]["ndcg@10"] > doc["models"]["popularity"]["ndcg@10"]


@pytest.mark.parametrize("bad", [["--format", "parquet"], ["--protocol", "random"]])
def test_evaluate_rejects_bad_options(tmp_path: Path, bad: list[str]) -> None:
    data = tmp_path / "u.data"
    _write_movielens(data)
    args = ["--interactions", str(data), "--format", "movielens", "--no-default", *bad]
    commands = getattr(app, "registered_commands", [])
    if len(commands) + len(getattr(app, "registered_groups", [])) > 1:
        args = ["evaluate", *args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
