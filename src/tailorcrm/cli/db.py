"""``tailorcrm db``: create or migrate the database schema."""

from __future__ import annotations

import typer

from tailorcrm.cli.common import DbOption, console, handle_errors, load_settings
from tailorcrm.store.engine import make_engine
from tailorcrm.store.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Database schema: migrate to the newest revision.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade_cmd(db: DbOption = None) -> None:
    """Create the tables or migrate them to the newest revision (safe to run again)."""
    url = load_settings(db=db).database_url
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        after = upgrade(engine)
    finally:
        engine.dispose()
    shown = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"{shown}: already at revision [bold]{after}[/]")
    else:
        console.print(f"{shown}: migrated from {before or 'empty'} to revision [bold]{after}[/]")


@app.command("current")
@handle_errors
def current_cmd(db: DbOption = None) -> None:
    """Show the database's revision and the newest one this version ships."""
    engine = make_engine(load_settings(db=db).database_url)
    try:
        console.print(f"database: {current_revision(engine) or 'empty'}  newest: {head_revision()}")
    finally:
        engine.dispose()
