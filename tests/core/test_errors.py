"""The error taxonomy: stable codes, statuses and one JSON shape."""

from __future__ import annotations

import pytest

from tailorcrm import errors


def _all_errors() -> list[type[errors.TailorCRMError]]:
    found = [errors.TailorCRMError]
    stack = [errors.TailorCRMError]
    while stack:
        for sub in stack.pop().__subclasses__():
            found.append(sub)
            stack.append(sub)
    return found


def test_codes_and_exit_codes_are_unique() -> None:
    classes = _all_errors()
    assert len({c.code for c in classes}) == len(classes)
    assert len({c.exit_code for c in classes}) == len(classes)


@pytest.mark.parametrize("cls", _all_errors())
def test_json_shape(cls: type[errors.TailorCRMError]) -> None:
    err = cls("row 3: field 'price': not a number", row=3, field="price")
    body = err.to_dict()
    assert body["error"]["code"] == cls.code
    assert body["error"]["details"] == {"row": 3, "field": "price"}
    assert "row 3" in body["error"]["message"]
    assert 400 <= cls.http_status < 600
