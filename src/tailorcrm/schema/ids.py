"""The one rule for external ids (customers, items, events): how they are normalised or refused.

Every entrance — API paths and bodies, imports, the CLI and the store itself — passes ids
through :func:`normalize_id` (one value) or :func:`normalize_ids` (a pandas column), so that
the id a request names is the id it reads and writes:

* Unicode NFC, so that a composed and a decomposed "é" are one id;
* leading and trailing white space is removed, Unicode white space included (NBSP, NEL,
  the U+2000 block, ideographic space): ``" cust-5\\u0085"`` *is* ``cust-5`` everywhere;
* ids holding control, format (zero-width, bidi override), surrogate, line- or
  paragraph-separator characters are refused: they are invisible or spoof other ids;
* empty ids and ids longer than :data:`MAX_ID_LENGTH` characters are refused.

Ids stay case-sensitive (``CUST-5`` and ``cust-5`` are two records), as CRM ids are.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from tailorcrm.errors import ValidationError

if TYPE_CHECKING:  # pandas loads when these functions run: light commands skip it
    import numpy as np
    import pandas as pd

MAX_ID_LENGTH = 255
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_ASCII_CONTROL = re.compile("[\x00-\x1f\x7f]")
# The refused characters as a regular-expression class, for the API's schema (JSON Schema
# has no Unicode categories): Cc, Cf, Zl and Zp of Unicode 15 outside the surrogates.
_REFUSED_CLASS = (
    "\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f")
# Python's str.strip() white space, spelt out (regex engines disagree on what \\s holds)
_SPACE_CLASS = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
ID_PATTERN = (f"^[{_SPACE_CLASS}]*[^{_SPACE_CLASS}{_REFUSED_CLASS}]"
              f"(?:[^{_REFUSED_CLASS}]*[^{_SPACE_CLASS}{_REFUSED_CLASS}])?[{_SPACE_CLASS}]*$")
"""An id that :func:`normalize_id` accepts (white space padding allowed), as a pattern."""


def id_problem(text: str) -> str | None:
    """Why an already-normalised id is refused, or None when it is fine."""
    if not text:
        return "empty id"
    if len(text) > MAX_ID_LENGTH:
        return f"id longer than {MAX_ID_LENGTH} characters"
    for ch in text:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES:
            return f"id holds the invisible or control character U+{ord(ch):04X}"
    return None


def canonical(value: Any) -> str:
    """The normalised text of an id (NFC, trimmed), without checking it."""
    text = value if isinstance(value, str) else str(value)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def normalize_id(value: Any, *, field: str = "id") -> str:
    """The canonical form of one external id.

    Raises
    ------
    ValidationError
        Naming ``field`` and the reason, when the id is missing, empty, too long or holds a
        refused character.
    """
    if value is None or (isinstance(value, float) and value != value):
        raise ValidationError(f"{field} is missing", field=field, reason="missing")
    text = canonical(value)
    problem = id_problem(text)
    if problem is not None:
        raise ValidationError(f"{field}: {problem}", field=field, reason=problem)
    return text


def normalize_ids(series: pd.Series) -> tuple[pd.Series, np.ndarray, list[str]]:
    """Normalise a column of ids (missing values stay missing).

    Returns
    -------
    (ids, bad, reasons)
        The canonical ids, a mask of refused ones, and one reason per refused id.
    """
    import numpy as np
    present = series.notna().to_numpy(bool)
    bad = np.zeros(len(series), dtype=bool)
    if not present.any():
        return series, bad, []
    text = series.astype("str").where(present)
    reasons: dict[int, str] = {}
    wide = present & ~text.str.isascii().fillna(True).to_numpy(bool)
    if wide.any():  # rare: checked one by one against the Unicode categories
        text = text.copy()
        for pos in map(int, np.flatnonzero(wide)):
            value = canonical(text.iat[pos])
            text.iat[pos] = value
            problem = id_problem(value)
            if problem is not None:
                bad[pos] = True
                reasons[int(pos)] = problem
    text = text.str.strip()
    lengths = text.str.len().fillna(1).to_numpy()
    narrow = present & ~wide & (
        text.str.contains(_ASCII_CONTROL, regex=True).fillna(False).to_numpy(bool)
        | (lengths > MAX_ID_LENGTH) | (lengths == 0))
    for pos in map(int, np.flatnonzero(narrow)):
        bad[pos] = True
        reasons[int(pos)] = id_problem(str(text.iat[pos])) or "refused id"
    return text, bad, [reasons[int(p)] for p in np.flatnonzero(bad)]
