"""Customer groups: field values, quantile bins, frequent text values and their order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tailorcrm.needs.groups import MISSING_GROUP, OTHER_GROUP, field_groups, group_order


def test_many_valued_text_keeps_the_frequent_values() -> None:
    countries = pd.Series(["uk"] * 60 + ["fr"] * 20 + [f"c{i}" for i in range(30)] + [None] * 5)
    groups = field_groups(countries, max_groups=5)
    assert groups is not None
    assert groups.value_counts().to_dict() == {"uk": 60, OTHER_GROUP: 28, "fr": 20,
                                               "(missing)": 5, "c0": 1, "c1": 1}
    ids = pd.Series([f"id{i}" for i in range(100)])
    assert field_groups(ids, max_groups=5) is None


def test_numbers_with_many_values_become_ordered_bins() -> None:
    values = pd.Series(np.arange(100.0))
    groups = field_groups(values, bins=4)
    assert groups is not None
    labels = sorted(set(groups), key=group_order)
    assert labels == ["0 – 24", "25 – 49", "50 – 74", "75 – 99"]
    assert sorted([MISSING_GROUP, OTHER_GROUP, "10 – 20", "2 – 3"], key=group_order) == [
        "2 – 3", "10 – 20", MISSING_GROUP, OTHER_GROUP]
    assert field_groups(pd.Series([["a"], ["b"]])) is None  # lists cannot group
