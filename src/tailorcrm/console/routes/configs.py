"""Rules and strategies pages: edit as TOML, errors at the line, preview, save, roll back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from tailorcrm.console.auth import PREFIX, AdminPost, Viewer
from tailorcrm.console.render import page, redirect
from tailorcrm.console.views import configs as view
from tailorcrm.customize.configs import ACTIONS_KIND
from tailorcrm.errors import ValidationError
from tailorcrm.privacy.admin_audit import audit_config
from tailorcrm.privacy.audit import key_actor

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Kind = Path(pattern=r"^(strategy|rules|actions)$")
Name = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
Text = Form(max_length=200_000)


def _url(kind: str, name: str) -> str:
    return f"{PREFIX}/configs/{kind}/{name}"


@router.get("/configs")
async def configs_page(request: Request, user: Viewer) -> Response:
    """Every strategy, rule set and action catalog of the tenant."""
    rows = await run_in_threadpool(view.config_list, request.app.state.store, user.tid)
    return page(request, "configs.html", user, active="configs", rows=rows,
                labels=view.LABELS)


@router.get("/configs/{kind}/{name}")
async def editor(request: Request, user: Viewer, kind: str = Kind, name: str = Name,
                 version: int | None = Query(None, ge=1), saved: int | None = None) -> Response:
    """A document's TOML (newest version, or ``version``) and its versions."""
    text, versions = await run_in_threadpool(view.current_text, request.app.state.store,
                                             user.tid, kind, name, version)
    return page(request, "config_edit.html", user, active="configs", kind=kind, name=name,
                text=text, versions=versions, shown=version, label=view.LABELS[kind],
                url=_url(kind, name),
                flash=f"Saved as version {saved}." if saved else "")


def _checked(request: Request, user: Any, kind: str, name: str, text: str) -> Any:
    return view.parse(kind, name, text, request.app.state.store, user.tid)


@router.post("/configs/{kind}/{name}/check")
async def check(request: Request, user: AdminPost, kind: str = Kind, name: str = Name,
                text: str = Text) -> Response:
    """Validate the edited text: the errors with their lines, or that it is valid."""
    _, found = await run_in_threadpool(_checked, request, user, kind, name, text)
    return page(request, "fragments/config_check.html", user, problems=found, text=text)


@router.post("/configs/{kind}/{name}/preview")
async def preview(request: Request, user: AdminPost, kind: str = Kind, name: str = Name,
                  text: str = Text, customers: str = Form("", max_length=2000)) -> Response:
    """Offline figures of the edit vs the active version, and sample lists before/after."""
    model, found = await run_in_threadpool(_checked, request, user, kind, name, text)
    if model is None:
        return page(request, "fragments/config_check.html", user, problems=found, text=text,
                    status=422)
    if kind == ACTIONS_KIND:
        return page(request, "fragments/config_check.html", user, problems=[], text=text,
                    note="Action catalogs have no list preview: the catalog is valid.")
    ids = [c.strip() for c in customers.split(",") if c.strip()][:10]
    result = await run_in_threadpool(view.preview_edit, request.app.state.store,
                                     request.app.state.cache, user.tid, kind, name, model, ids)
    return page(request, "fragments/config_preview.html", user, p=result)


def _save(request: Request, user: Any, kind: str, name: str, model: Any) -> int:
    store = request.app.state.store
    version = view.save(store, user.tid, kind, name, model)
    audit_config(store, user.tid, key_actor(user.key_id), kind, name, version)
    request.app.state.cache.touch(user.tid)  # this worker serves the new version at once
    return version


@router.post("/configs/{kind}/{name}/save")
async def save(request: Request, user: AdminPost, kind: str = Kind, name: str = Name,
               text: str = Text) -> Response:
    """Store the edit as the next version (refused with its errors when invalid)."""
    model, found = await run_in_threadpool(_checked, request, user, kind, name, text)
    if model is None:
        versions = await run_in_threadpool(request.app.state.store.configs.versions,
                                           user.tid, kind, name)
        return page(request, "config_edit.html", user, active="configs", kind=kind, name=name,
                    text=text, versions=versions, shown=None, label=view.LABELS[kind],
                    url=_url(kind, name), problems=found, status=422)
    version = await run_in_threadpool(_save, request, user, kind, name, model)
    return redirect(f"{_url(kind, name)}?saved={version}")


@router.post("/configs/{kind}/{name}/rollback")
async def rollback(request: Request, user: AdminPost, kind: str = Kind, name: str = Name,
                   version: int = Form(ge=1)) -> Response:
    """Store an earlier version again as the newest one."""
    store = request.app.state.store
    if version not in await run_in_threadpool(store.configs.versions, user.tid, kind, name):
        raise ValidationError(f"no version {version} of {name!r}", field="version")
    text, _ = await run_in_threadpool(view.current_text, store, user.tid, kind, name, version)
    model, found = await run_in_threadpool(_checked, request, user, kind, name, text)
    if model is None:
        raise ValidationError("that version no longer validates: "
                              + "; ".join(p.message for p in found))
    saved = await run_in_threadpool(_save, request, user, kind, name, model)
    return redirect(f"{_url(kind, name)}?saved={saved}")


@router.post("/configs/new")
async def new(request: Request, user: AdminPost,
              kind: str = Form(pattern=r"^(strategy|rules)$"),
              name: str = Form(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")) -> Response:
    """Open the editor on a new document (stored only when saved)."""
    return redirect(_url(kind, name))
