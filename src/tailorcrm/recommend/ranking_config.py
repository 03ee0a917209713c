"""What a tenant's lists may hold and how long they are, saved beside the model they rank."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from tailorcrm.recommend.base import ModelConfig

RANKING_FILE = "ranking.json"


class RankingConfig(ModelConfig):
    """What a list may hold and how long it is.

    Items bought (``bought_types``) are left out unless one of their categories is in
    ``repurchasable_categories``; items with ``available == False`` and items the customer
    rejected (``reject_types``) are always left out. ``exclude_bought=False`` makes repeat
    purchases candidates (the tenant's model choice sets it where buying again wins).
    ``personalized=False`` says the tenant's choice found no personalized model that beats
    popularity: popularity reasons then say the list is not personalized.
    """

    n: int = Field(10, gt=0)
    exclude_bought: bool = True
    bought_types: tuple[str, ...] = ("purchase",)
    repurchasable_categories: tuple[str, ...] = ()
    exclude_unavailable: bool = True
    reject_types: tuple[str, ...] = ("reject",)
    max_reasons: int = Field(3, ge=0)
    personalized: bool = True


def save_ranking_config(path: str | Path, config: RankingConfig) -> None:
    """Write the ranking config a model was chosen with beside its artifact."""
    (Path(path) / RANKING_FILE).write_text(json.dumps(config.model_dump(mode="json"),
                                                      sort_keys=True))


def load_ranking_config(path: str | Path) -> RankingConfig | None:
    """The ranking config saved beside an artifact, None when there is none."""
    file = Path(path) / RANKING_FILE
    if not file.is_file():
        return None
    return RankingConfig.model_validate(json.loads(file.read_text()))
