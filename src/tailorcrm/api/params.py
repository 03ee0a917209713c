"""Typed path and body parameters shared by the routes: external ids, normalised on the way in.

Every id the API receives goes through :func:`tailorcrm.schema.ids.normalize_id` here, at the
boundary, so that a route reads and writes exactly the record it names (``%20cust-5%C2%85``
*is* ``cust-5``); ids with control or invisible characters answer 422.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import AfterValidator, Field

from tailorcrm.errors import ValidationError
from tailorcrm.schema.ids import ID_PATTERN, MAX_ID_LENGTH, normalize_id


def _normalized(value: str) -> str:
    try:
        return normalize_id(value)
    except ValidationError as exc:  # pydantic reports ValueErrors as 422 with the location
        raise ValueError(exc.details.get("reason", exc.message)) from None


def _normalized_or_none(value: str | None) -> str | None:
    return None if value is None else _normalized(value)


ID_RULE = ("Normalised to Unicode NFC with leading and trailing white space removed; "
           "case-sensitive; control and invisible format characters are refused.")
CustomerIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH,
                                     pattern=ID_PATTERN,
                                     description=f"The CRM's customer id. {ID_RULE}"),
                           AfterValidator(_normalized)]
ItemIdPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN,
                                 description=f"The CRM's item id. {ID_RULE}"),
                       AfterValidator(_normalized)]
ExternalId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN,
                                  description=ID_RULE),
                       AfterValidator(_normalized)]
OptionalExternalId = Annotated[str | None, Field(None, min_length=1, max_length=MAX_ID_LENGTH,
                                                 pattern=ID_PATTERN, description=ID_RULE),
                               AfterValidator(_normalized_or_none)]
