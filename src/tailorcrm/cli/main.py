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
app.add_typer(__import__("tailorcrm.cli.db", fromlist=["_"]).app, name="db")
app.add_typer(__import__("tailorcrm.cli.tenants", fromlist=["_"]).app, name="tenants")
app.add_typer(__import__("tailorcrm.cli.keys", fromlist=["_"]).app, name="keys")
app.add_typer(__import__("tailorcrm.cli.schema", fromlist=["_"]).app, name="schema")
app.command("evaluate")(__import__("tailorcrm.cli.evaluate", fromlist=["_"]).evaluate_command)
app.command("demo-data")(__import__("tailorcrm.cli.demo_data", fromlist=["_"]).demo_data_command)
app.add_typer(__import__("tailorcrm.cli.needs", fromlist=["_"]).app, name="needs")
app.add_typer(__import__("tailorcrm.cli.rules", fromlist=["_"]).app, name="rules")
app.add_typer(__import__("tailorcrm.cli.strategies", fromlist=["_"]).app, name="strategies")
app.add_typer(__import__("tailorcrm.cli.actions", fromlist=["_"]).app, name="actions")
app.add_typer(__import__("tailorcrm.cli.export", fromlist=["_"]).app, name="export")
app.command("demo")(__import__("tailorcrm.cli.demo", fromlist=["_"]).demo_command)
app.command("train")(__import__("tailorcrm.cli.demo", fromlist=["_"]).train_command)
app.add_typer(__import__("tailorcrm.cli.imports", fromlist=["_"]).app, name="import")
app.command("serve")(__import__("tailorcrm.cli.serve", fromlist=["_"]).serve_command)
app.add_typer(__import__("tailorcrm.cli.recommend", fromlist=["_"]).app, name="recommend")


def main() -> None:  # pragma: no cover - console entry
    app()
