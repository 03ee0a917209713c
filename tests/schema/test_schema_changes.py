"""check_values: which stored values a new field spec converts, keeps, or breaks."""

from __future__ import annotations

from tailorcrm.schema.changes import MAX_LISTED_PROBLEMS, ChangeReport, check_values
from tailorcrm.schema.fields import FieldSpec


def _run(spec: FieldSpec, rows: list[tuple[str, object, bool]]) -> tuple[ChangeReport,
                                                                          dict[str, object]]:
    report = ChangeReport(entity=spec.entity, field=spec.name)
    rewrites = dict(check_values(spec, rows, report))
    return report, rewrites


def test_string_to_integer_converts_numbers_and_reports_words() -> None:
    spec = FieldSpec(entity="customer", name="age", type="integer")
    report, rewrites = _run(spec, [("a", "41", True), ("b", 7, True), ("c", "old", True),
                                   ("d", None, False), ("e", 3.5, True)])
    assert rewrites == {"a": 41}
    assert [(p.row_id, p.value) for p in report.problems] == [("c", "old"), ("e", 3.5)]
    assert (report.rows_checked, report.n_converted, report.n_problems) == (5, 1, 2)
    assert not report.ok and "2 would break" in report.summary()


def test_required_with_default_fills_missing_values() -> None:
    spec = FieldSpec(entity="item", name="tier", type="enum", enum_values=("a", "b"),
                     required=True, default="a")
    report, rewrites = _run(spec, [("x", None, False), ("y", "b", True), ("z", "", True)])
    assert rewrites == {"x": "a", "z": "a"} and report.ok


def test_required_without_default_breaks_on_missing() -> None:
    spec = FieldSpec(entity="customer", name="email", type="string", required=True)
    report, rewrites = _run(spec, [("x", None, False), ("y", "a@b.c", True)])
    assert rewrites == {} and [p.reason for p in report.problems] == [
        "required value is missing"]


def test_problem_list_is_capped_but_counted() -> None:
    spec = FieldSpec(entity="customer", name="n", type="number")
    rows = [(str(i), "x", True) for i in range(MAX_LISTED_PROBLEMS + 5)]
    report, _ = _run(spec, rows)
    assert report.n_problems == MAX_LISTED_PROBLEMS + 5
    assert len(report.problems) == MAX_LISTED_PROBLEMS


def test_bool_stored_for_number_field_is_a_problem_not_a_silent_cast() -> None:
    spec = FieldSpec(entity="customer", name="n", type="number")
    report, rewrites = _run(spec, [("a", True, True), ("b", 1, True)])
    assert [p.row_id for p in report.problems] == ["a"]
    assert rewrites == {"b": 1.0}
