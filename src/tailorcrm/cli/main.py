"""The ``tailorcrm`` command: one Typer app, each command group in its own module, loaded lazily.

Every command module imports what its work needs (pandas, scikit-learn, the store, the
models); importing all of them to print ``--help`` took seconds. The group below lists the
commands from a table and imports a command's module only when that command runs (or shows
its own help), so ``tailorcrm --help`` and light commands start at once. Why by hand: Typer
has no lazy sub-commands; this is click's documented lazy-group pattern.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

#: name -> (module, attribute, one-line help), in the order ``--help`` lists them. The
#: attribute is a Typer app (a command group) or a command function.
COMMANDS: dict[str, tuple[str, str, str]] = {
    # data and set-up
    "db": ("tailorcrm.cli.db", "app", "Database schema: migrate to the newest revision."),
    "tenants": ("tailorcrm.cli.tenants", "app", "Tenants: the organizations using tailorcrm."),
    "keys": ("tailorcrm.cli.keys", "app",
             "API keys per tenant, with scopes read, write and admin."),
    "schema": ("tailorcrm.cli.schema", "app",
               "Per-tenant schema: custom fields and event types."),
    "import": ("tailorcrm.cli.imports", "app",
               "Import customers, items or events from CSV (or .gz), JSONL or Parquet."),
    "demo-data": ("tailorcrm.cli.demo_data", "demo_data_command",
                  "Write the seeded demo CRM (customers, items, events) as files."),
    # offline jobs and analysis
    "demo": ("tailorcrm.cli.demo", "demo_command",
             "Generate, import, train and show the demo tenant, then serve it."),
    "train": ("tailorcrm.cli.demo", "train_command",
              "Train a tenant: recommender, needs, segments and strategies."),
    "evaluate": ("tailorcrm.cli.evaluate", "evaluate_command",
                 "Split the events, fit every model on train, and score top-k lists on test."),
    "recommend": ("tailorcrm.cli.recommend", "app",
                  "Recommendations with reasons: one customer's list, or all of them."),
    "models": ("tailorcrm.cli.models", "app",
               "Trained model versions, the active one, and their validation scores."),
    "needs": ("tailorcrm.cli.needs", "app",
              "Customer needs: definitions, prediction with reasons, analysis and reports."),
    # customization
    "rules": ("tailorcrm.cli.rules", "app",
              "Business rules: CEL filters and boosters, versioned per tenant."),
    "strategies": ("tailorcrm.cli.strategies", "app",
                   "Named strategies: model blend, fallback, rules, diversity, exclusions."),
    "actions": ("tailorcrm.cli.actions", "app",
                "Next best actions: catalog, ranked actions per customer, feedback."),
    "experiments": ("tailorcrm.cli.experiments", "app",
                    "Experiments: A/B tests of strategies and action catalogs."),
    "export": ("tailorcrm.cli.export", "app", "Marketing exports (consent-aware)."),
    # privacy and audit
    "privacy": ("tailorcrm.cli.privacy", "app",
                "Privacy: erase, export and unsuppress customers (GDPR, CCPA)."),
    "audit": ("tailorcrm.cli.audit", "app",
              "The audit log: admin and privacy actions, key creation and revocation."),
    "retention": ("tailorcrm.cli.retention", "app",
                  "Retention: delete events older than the tenant's retention_days."),
    # serving
    "serve": ("tailorcrm.cli.serve", "serve_command", "Serve the REST API (uvicorn)."),
}


def load_command(name: str) -> Any:
    """The click command of ``name`` (Typer's click), importing its module now."""
    module, attribute, _ = COMMANDS[name]
    target: Any = getattr(importlib.import_module(module), attribute)
    if isinstance(target, typer.Typer):
        # through a parent, as add_typer does: a group of one command stays a group
        parent = typer.Typer()
        parent.add_typer(target, name=name)
        command = typer.main.get_command(parent).commands[name]  # type: ignore[attr-defined]
    else:
        single = typer.Typer()
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """A group whose commands are imported when used, listed from :data:`COMMANDS`."""

    # Typer vendors its own click; its types are left as Any here rather than imported from
    # a private module.
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        return load_command(cmd_name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, help_) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


app = typer.Typer(
    name="tailorcrm",
    cls=LazyGroup,
    help="Personalization and per-organization customization for any CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root() -> None:
    """Personalization and per-organization customization for any CRM."""


def main() -> None:  # pragma: no cover - console entry
    app()
