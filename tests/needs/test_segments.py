"""Behavioural segments on planted clusters: recovery, k by silhouette, descriptions in words."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from tailorcrm.data.dataset import Dataset
from tailorcrm.errors import InsufficientDataError
from tailorcrm.needs.rfm import NO_PURCHASES
from tailorcrm.needs.segments import (
    Segmentation,
    SegmentationConfig,
    SegmentationProfile,
    behavioural_segments,
    custom_feature_frame,
    customer_features,
)
from tailorcrm.schema.fields import FieldSpec, FieldType

REF = pd.Timestamp("2024-07-01", tz="UTC")
# planted: (customers, purchases per customer, quantity, days since last buy, industry mix)
PLANTED = {
    "big": (120, 20, 8.0, 3, {"retail": 0.8, "finance": 0.1, "health": 0.1}),
    "regular": (200, 6, 2.0, 20, {"retail": 0.2, "finance": 0.6, "health": 0.2}),
    "lapsed": (160, 2, 1.0, 200, {"retail": 0.2, "finance": 0.2, "health": 0.6}),
}


def planted_shop(seed: int = 11) -> tuple[Dataset, pd.Series]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    truth: dict[str, str] = {}
    industry: dict[str, str] = {}
    for group, (n, buys, qty, last, mix) in PLANTED.items():
        for i in range(n):
            cid = f"{group}{i:04d}"
            truth[cid] = group
            industry[cid] = str(rng.choice(list(mix), p=list(mix.values())))
            k = max(1, int(rng.poisson(buys)))
            gap = last + rng.exponential(3.0)
            for j in range(k):
                rows.append({"customer_id": cid, "item_id": f"i{rng.integers(20)}",
                             "type": "purchase", "value": float(rng.gamma(4.0, qty / 4.0)),
                             "ts": REF - pd.Timedelta(days=float(gap + 5 * j + rng.random()))})
    events = pd.DataFrame(rows).sort_values("ts")
    for i in range(15):  # customers who never bought: not clustered
        industry[f"idle{i:02d}"] = "retail"
    customers = pd.DataFrame({"consent_personalization": "unknown",
                              "industry": pd.Series(industry)})
    customers.index.name = "customer_id"
    fields = (FieldSpec(entity="customer", name="industry", type=FieldType.ENUM, feature=True,
                        enum_values=("retail", "finance", "health")),)
    data = Dataset.from_events(events, customers=customers, customer_fields=fields)
    return data, pd.Series(truth)


@pytest.fixture(scope="module")
def shop() -> tuple[Dataset, pd.Series]:
    return planted_shop()


CFG = SegmentationConfig(k_min=2, k_max=5, n_init=3, category_shares=False, describe_top=5)


@pytest.fixture(scope="module")
def segmented(shop: tuple[Dataset, pd.Series]) -> Segmentation:
    return behavioural_segments(shop[0], reference=REF, config=CFG)


def test_recovers_planted_clusters_and_k(shop: tuple[Dataset, pd.Series],
                                         segmented: Segmentation) -> None:
    _, truth = shop
    seg = segmented
    assert seg.profile.k == 3
    best = max(seg.profile.silhouette, key=lambda s: s.silhouette)
    assert best.k == 3
    ari = adjusted_rand_score(truth.sort_index(), seg.assignment.reindex(truth.index).sort_index())
    assert ari >= 0.8
    assert sum(p.n for p in seg.profile.segments) == len(truth) + 15
    # the largest segment is named first; customers without purchases are set apart
    assert seg.profile.segments[0].segment == "segment_1"
    sizes = [p.n for p in seg.profile.segments[:-1]]
    assert sizes == sorted(sizes, reverse=True)
    assert seg.profile.segments[-1].segment == NO_PURCHASES
    idle = seg.assignment[seg.assignment.index.str.startswith("idle")]
    assert len(idle) == 15 and (idle == NO_PURCHASES).all()


def test_assign_places_customers_at_another_time(shop: tuple[Dataset, pd.Series],
                                                 segmented: Segmentation) -> None:
    data, truth = shop
    again = segmented.assign(data, REF)
    assert again.reindex(segmented.assignment.index).equals(segmented.assignment)
    # 150 days earlier the "lapsed" customers had bought recently, the rest had not started
    earlier = segmented.assign(data, REF - pd.Timedelta(days=150))
    lapsed = earlier[truth.index[truth == "lapsed"]]
    assert (lapsed != NO_PURCHASES).mean() > 0.9
    assert (earlier[truth.index[truth == "big"]] == NO_PURCHASES).mean() > 0.9


def test_descriptions_name_the_planted_features(shop: tuple[Dataset, pd.Series],
                                                segmented: Segmentation) -> None:
    _, truth = shop
    seg = segmented
    majority = seg.assignment.reindex(truth.index).groupby(truth).agg(lambda s: s.mode()[0])
    assert majority.nunique() == 3
    profiles = {p.segment: p for p in seg.profile.segments}
    big = {d.feature: d for d in profiles[majority["big"]].differences}
    assert {"monetary", "frequency"} <= set(big)
    assert big["monetary"].standardized_difference > 0
    assert big["monetary"].text.startswith("spend ") and "× average" in big["monetary"].text
    # the enum only describes (it is not clustered on) and says its planted share
    assert big["industry=retail"].standardized_difference > 0
    assert big["industry=retail"].text.startswith("industry = retail ")
    assert "% vs " in big["industry=retail"].text
    lapsed = profiles[majority["lapsed"]].differences[0]
    assert lapsed.feature == "recency_purchase_days" and lapsed.standardized_difference > 0
    assert "industry=retail" not in seg.profile.features


def test_clustering_on_an_enum_when_asked(shop: tuple[Dataset, pd.Series]) -> None:
    data, _ = shop
    cols = ["industry=retail", "industry=finance", "industry=health"]
    only_industry = customer_features(data, REF, CFG)[cols]
    cfg = CFG.model_copy(update={"cluster_on_enums": True})
    seg = behavioural_segments(data, features=only_industry, config=cfg)
    assert seg.profile.k == 3
    # each segment is one industry: 100% vs its population share
    for profile in seg.profile.segments:
        top = profile.differences[0]
        assert top.segment_mean == pytest.approx(1.0) and top.text.endswith(
            f"100% vs {top.population_mean:.0%}")


def test_deterministic_with_random_state(shop: tuple[Dataset, pd.Series],
                                         segmented: Segmentation) -> None:
    a = segmented
    b = behavioural_segments(shop[0], reference=REF, config=CFG)
    assert a.assignment.equals(b.assignment)
    assert a.profile == b.profile
    assert SegmentationProfile.model_validate_json(a.profile.model_dump_json()) == a.profile


def test_too_few_customers() -> None:
    events = pd.DataFrame({"customer_id": ["a", "b"], "item_id": ["x", "y"]})
    with pytest.raises(InsufficientDataError):
        behavioural_segments(Dataset.from_events(events), config=CFG)


def test_custom_fields_by_type() -> None:
    """Numbers as is, dates as age at the reference, enums and lists one-hot, text left out."""
    ids = pd.Index(["a", "b", "c", "d"], name="customer_id")
    customers = pd.DataFrame({
        "consent_personalization": "unknown",
        "budget": [10.0, np.nan, 30.0, 50.0],
        "signup": pd.to_datetime(["2024-06-01", "2024-06-21", "2024-01-01", None], utc=True),
        "tags": [["vip", "eu"], ["eu"], [], ["us"]],
        "plan": ["pro", "basic", None, "pro"],
        "notes": ["likes tea", "", "calls a lot", "x"],
        "secret": [1.0, 2.0, 3.0, 4.0],
    }, index=ids)
    fields = (
        FieldSpec(entity="customer", name="budget", type=FieldType.NUMBER, feature=True),
        FieldSpec(entity="customer", name="signup", type=FieldType.DATE, feature=True),
        FieldSpec(entity="customer", name="tags", type=FieldType.LIST, feature=True),
        FieldSpec(entity="customer", name="plan", type=FieldType.ENUM, feature=True,
                  enum_values=("basic", "pro")),
        FieldSpec(entity="customer", name="notes", type=FieldType.TEXT, feature=True),
        FieldSpec(entity="customer", name="secret", type=FieldType.NUMBER),  # not a feature
    )
    data = Dataset(customers=customers, items=pd.DataFrame(), customer_fields=fields)
    frame = custom_feature_frame(data, ids, REF)
    assert frame["budget"].tolist() == [10.0, 30.0, 30.0, 50.0]  # missing -> median
    assert frame.loc["a", "signup"] == pytest.approx(30.0)  # 2024-06-01 -> 2024-07-01
    assert frame.loc["b", "signup"] == pytest.approx(10.0)
    assert frame["tags=eu"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert frame["plan=pro"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert "notes" not in " ".join(frame.columns) and "secret" not in frame.columns
