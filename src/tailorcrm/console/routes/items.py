"""The items pages."""

from __future__ import annotations

from fastapi import APIRouter

from tailorcrm.console.auth import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
