"""``tailorcrm import``: the report, quarantine and report files, and the exit code of errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tailorcrm.cli.main import app

BAD = Path(__file__).resolve().parents[1] / "fixtures" / "bad"


def test_import_events_writes_report_and_quarantine(sqlite_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    report, quarantine = tmp_path / "report.json", tmp_path / "q.jsonl"
    result = runner.invoke(app, ["import", "events", str(BAD / "events.csv"), "--db", sqlite_url,
                                 "--tenant", "cli", "--report-json", str(report),
                                 "--quarantine-out", str(quarantine)])
    assert result.exit_code == 0, result.output
    assert "rejected" in result.output and "warning" in result.output
    body = json.loads(report.read_text())
    assert (body["rows_read"], body["rows_loaded"], body["rows_rejected"]) == (10, 3, 7)
    assert body["recommendations"] and body["import_id"] >= 1
    rows = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert [r["row_number"] for r in rows] == [2, 3, 4, 5, 6, 7, 8]


def test_import_with_named_mapping_and_empty_file(sqlite_url: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["import", "customers", str(BAD / "customers.csv"), "--mapping",
                             str(BAD / "customers.toml"), "--db", sqlite_url])
    assert ok.exit_code == 0, ok.output
    empty = runner.invoke(app, ["import", "events", str(BAD / "empty.csv"), "--db", sqlite_url])
    assert empty.exit_code == 3  # ValidationError
    wrong = runner.invoke(app, ["import", "items", str(BAD / "customers.csv"), "--mapping",
                                str(BAD / "customers.toml"), "--db", sqlite_url])
    assert wrong.exit_code == 2  # ConfigError: the mapping imports customers


def test_an_import_that_loads_no_row_exits_non_zero_with_its_first_reasons(
        sqlite_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "all_bad.csv"
    bad.write_text("customer_id,item_id,type,timestamp\n"
                   "c1,i1,purchase,not a date\n"
                   ",i2,purchase,2025-01-01\n"
                   "c3,i3,teleport,2025-01-01\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "events", str(bad), "--db", sqlite_url,
                                      "--tenant", "cli"])
    assert result.exit_code != 0
    assert "no row of all_bad.csv was loaded" in result.output
    for row in (1, 2, 3):  # every reason, in full, with its row (1 = first data row) and field
        assert f"row {row}, field" in result.output
    assert "teleport" in result.output
