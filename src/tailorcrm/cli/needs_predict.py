"""``tailorcrm needs define|list|train|score|explain``: need prediction from the command line."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach the prediction commands to the ``needs`` group."""
