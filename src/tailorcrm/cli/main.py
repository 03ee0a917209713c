"""The ``tailorcrm`` command: one Typer app, each command group in its own module."""

from __future__ import annotations

import typer

from tailorcrm.cli import (
    actions,
    db,
    demo,
    demo_data,
    evaluate,
    export,
    imports,
    keys,
    models,
    needs,
    recommend,
    rules,
    schema,
    serve,
    strategies,
    tenants,
)

app = typer.Typer(
    name="tailorcrm",
    help="Personalization and per-organization customization for any CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# data and set-up
app.add_typer(db.app, name="db")
app.add_typer(tenants.app, name="tenants")
app.add_typer(keys.app, name="keys")
app.add_typer(schema.app, name="schema")
app.add_typer(imports.app, name="import")
app.command("demo-data")(demo_data.demo_data_command)
# offline jobs and analysis
app.command("demo")(demo.demo_command)
app.command("train")(demo.train_command)
app.command("evaluate")(evaluate.evaluate_command)
app.add_typer(recommend.app, name="recommend")
app.add_typer(models.app, name="models")
app.add_typer(needs.app, name="needs")
# customization
app.add_typer(rules.app, name="rules")
app.add_typer(strategies.app, name="strategies")
app.add_typer(actions.app, name="actions")
app.add_typer(export.app, name="export")
# serving
app.command("serve")(serve.serve_command)


def main() -> None:  # pragma: no cover - console entry
    app()
