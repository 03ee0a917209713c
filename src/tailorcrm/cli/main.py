"""The ``tailorcrm`` command: one Typer app, each command group in its own module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="tailorcrm",
    help="Personalization and per-organization customization for any CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Command groups register themselves here, one line each (see tailorcrm/cli/*.py).


def main() -> None:  # pragma: no cover - console entry
    app()
