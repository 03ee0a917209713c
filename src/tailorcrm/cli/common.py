"""What every command shares: ``--db``/``--tenant`` options, opening the store, error exits.

Commands use it like this::

    @app.command("list")
    @handle_errors
    def list_(db: DbOption = None, tenant: TenantOption = None) -> None:
        with open_tenant(db, tenant) as (store, tid):
            ...

:func:`handle_errors` is the ONE place that maps the error taxonomy to exit codes: a
:class:`~tailorcrm.errors.TailorCRMError` prints one red ``error:`` line on stderr and exits
with the error's ``exit_code``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, ParamSpec, TypeVar

import pydantic
import typer
from rich.console import Console
from rich.markup import escape

from tailorcrm.errors import StorageError, TailorCRMError, ValidationError
from tailorcrm.settings import Settings
from tailorcrm.store import Store
from tailorcrm.store.errors import DatabaseError

log = logging.getLogger(__name__)

# soft_wrap: plain lines are left for the terminal to wrap, so they stay greppable whole.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

DbOption = Annotated[str | None, typer.Option(
    "--db", help="Database URL [default: $TAILORCRM_DATABASE_URL or sqlite:///tailorcrm.db].",
    show_default=False)]
TenantOption = Annotated[str | None, typer.Option(
    "--tenant", help="Tenant slug [default: $TAILORCRM_TENANT or 'default'].",
    show_default=False)]

P = ParamSpec("P")
R = TypeVar("R")


def load_settings(db: str | None = None, tenant: str | None = None) -> Settings:
    """Settings with the command-line ``--db``/``--tenant`` (when given) taking precedence."""
    return Settings.load(database_url=db, tenant=tenant)


def open_store(db: str | None = None) -> Store:
    """Open (and migrate) the store named by ``--db`` or the settings."""
    settings = load_settings(db=db)
    return Store.open(settings.database_url, artifacts_dir=settings.artifacts_dir)


@contextmanager
def open_tenant(db: str | None, tenant: str | None, *,
                create: bool = False) -> Iterator[tuple[Store, int]]:
    """The store and the id of the tenant (``--tenant`` or settings); closes the store after.

    With ``create`` a missing tenant is created; otherwise it raises NotFoundError.
    """
    settings = load_settings(db=db, tenant=tenant)
    store = Store.open(settings.database_url, artifacts_dir=settings.artifacts_dir)
    try:
        if create:
            tid = store.tenants.ensure(settings.tenant)
        else:
            tid = store.tenants.id_of(settings.tenant)
        yield store, tid
    finally:
        store.close()


def fail(error: TailorCRMError) -> typer.Exit:
    """Print ``error`` as one red line on stderr; returns the Exit to raise."""
    err_console.print(f"[bold red]error[/]: {escape(error.message)}")
    return typer.Exit(code=error.exit_code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command: taxonomy errors become a red line and the error's exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TailorCRMError as exc:
            raise fail(exc) from exc
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
                for e in exc.errors())
            raise fail(ValidationError(problems)) from exc
        except DatabaseError as exc:
            log.debug("database error", exc_info=True)
            raise fail(StorageError(f"database error: {exc}")) from exc

    return wrapper
