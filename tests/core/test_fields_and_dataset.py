"""Field coercion by type, vocabularies, and the Dataset's interaction matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailorcrm.data.dataset import Dataset
from tailorcrm.data.vocab import Vocabulary
from tailorcrm.schema.fields import FieldSpec, FieldType, coerce_value


@pytest.mark.parametrize(
    ("ftype", "raw", "expected"),
    [
        (FieldType.INTEGER, " 42 ", 42),
        (FieldType.INTEGER, "4.0", 4),
        (FieldType.NUMBER, "3.5", 3.5),
        (FieldType.BOOLEAN, "Yes", True),
        (FieldType.BOOLEAN, "0", False),
        (FieldType.DATE, "2024-02-29T10:00:00", "2024-02-29"),
        (FieldType.DATETIME, "2024-01-01T10:00:00Z", "2024-01-01T10:00:00+00:00"),
        (FieldType.LIST, "a| b |", ["a", "b"]),
        (FieldType.STRING, "  x ", "x"),
    ],
)
def test_coerce_ok(ftype: FieldType, raw: object, expected: object) -> None:
    spec = FieldSpec(entity="customer", name="f", type=ftype)
    assert coerce_value(spec, raw) == expected


@pytest.mark.parametrize(
    ("ftype", "raw"),
    [(FieldType.INTEGER, "4.5"), (FieldType.NUMBER, "abc"), (FieldType.BOOLEAN, "maybe"),
     (FieldType.DATE, "31/12/2024"), (FieldType.NUMBER, "inf")],
)
def test_coerce_rejects(ftype: FieldType, raw: object) -> None:
    with pytest.raises(ValueError):
        coerce_value(FieldSpec(entity="customer", name="f", type=ftype), raw)


def test_enum_required_default() -> None:
    spec = FieldSpec(entity="customer", name="tier", type=FieldType.ENUM,
                     enum_values=("gold", "silver"), required=True)
    assert coerce_value(spec, "gold") == "gold"
    with pytest.raises(ValueError, match="not one of"):
        coerce_value(spec, "bronze")
    with pytest.raises(ValueError, match="required"):
        coerce_value(spec, " ")
    with_default = spec.model_copy(update={"default": "silver"})
    assert coerce_value(with_default, None) == "silver"


def test_spec_rejects_reserved_and_bad_enum() -> None:
    with pytest.raises(ValueError):
        FieldSpec(entity="item", name="price", type=FieldType.NUMBER)
    with pytest.raises(ValueError):
        FieldSpec(entity="item", name="kind", type=FieldType.ENUM)
    with pytest.raises(ValueError):
        FieldSpec(entity="item", name="Bad-Name", type=FieldType.STRING)


def test_vocabulary_is_sorted_and_maps_unknown() -> None:
    v = Vocabulary(["b", "a", "c", "a"])
    assert v.to_list() == ["a", "b", "c"]
    assert v.index(["c", "zz", "a"]).tolist() == [2, -1, 0]
    assert v.index_of("b") == 1 and "b" in v and "q" not in v
    assert Vocabulary.union(v, ["d"]).to_list() == ["a", "b", "c", "d"]


def test_interaction_matrix_weights_by_catalog() -> None:
    ev = pd.DataFrame({
        "customer_id": ["u1", "u1", "u2", "u2", "u3"],
        "item_id": ["i1", "i1", "i2", None, "i1"],
        "type": ["purchase", "return", "view", "service_ticket", "rating"],
        "value": [1, 1, np.nan, np.nan, 4.0],
    })
    d = Dataset.from_events(ev)
    m = d.interaction_matrix().toarray()
    # u1: purchase 5 + return -3 on i1; u2: view 1 on i2; ticket has no item; u3 rating 4 × 1
    assert m.tolist() == [[2.0, 0.0], [0.0, 1.0], [4.0, 0.0]]
    assert d.interaction_matrix(weighting="binary").toarray().tolist() == [[1, 0], [0, 1], [1, 0]]
    assert d.interaction_matrix(weighting="count").toarray()[0, 0] == 2


def test_split_keeps_vocabularies() -> None:
    ev = pd.DataFrame({"customer_id": ["a", "b"], "item_id": ["x", "y"]})
    d = Dataset.from_events(ev)
    train = d.with_events(ev.iloc[:1])
    assert train.item_vocab == d.item_vocab
    assert train.interaction_matrix().shape == (2, 2)


def test_consent_mask() -> None:
    ev = pd.DataFrame({"customer_id": ["a", "b"], "item_id": ["x", "y"]})
    customers = pd.DataFrame({"consent_personalization": ["granted", "denied"]},
                             index=pd.Index(["a", "b"], name="customer_id"))
    d = Dataset.from_events(ev, customers=customers)
    assert d.personalizable_customers().tolist() == [True, False]
