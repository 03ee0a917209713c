"""Rendering console pages: one Jinja2 environment (autoescaped), security headers, errors.

Every page is HTML from a template; user-supplied text (names, titles, rule text) is escaped
by Jinja2's autoescape. The Content-Security-Policy allows scripts from this server only (no
inline script): charts read their data from ``<script type="application/json">`` blocks.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from tailorcrm import __version__
from tailorcrm.console.auth import PREFIX, ConsoleUser

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
       "form-action 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
           "Cache-Control": "no-store"}

NAV = (("overview", "Overview", f"{PREFIX}/"), ("customers", "Customers", f"{PREFIX}/customers"),
       ("needs", "Needs", f"{PREFIX}/needs"), ("configs", "Rules & strategies",
                                                f"{PREFIX}/configs"),
       ("items", "Items", f"{PREFIX}/items"), ("jobs", "Jobs", f"{PREFIX}/jobs"),
       ("experiments", "Experiments", f"{PREFIX}/experiments"))


def _json_data(value: Any) -> Markup:
    """``value`` as JSON safe inside a ``<script type="application/json">`` block."""
    text = json.dumps(value, default=str).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _environment() -> Environment:
    env = Environment(loader=ChoiceLoader([PackageLoader("tailorcrm.console", "templates"),
                                           PackageLoader("tailorcrm.needs", "templates")]),
                      autoescape=select_autoescape(["html", "j2"], default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["json_data"] = _json_data
    env.filters["when"] = _when
    env.filters["num"] = _number
    env.globals["prefix"] = PREFIX
    env.globals["version"] = __version__
    env.globals["nav"] = NAV
    return env


ENV = _environment()


def page(request: Request, template: str, user: ConsoleUser | None, *, status: int = 200,
         **context: Any) -> HTMLResponse:
    """A rendered page (or fragment) with the console's security headers."""
    body = ENV.get_template(template).render(request=request, user=user, **context)
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def redirect(url: str, *, status: int = 303) -> Response:
    """A redirect after a form post (303: the browser follows with GET)."""
    return RedirectResponse(url, status_code=status, headers=HEADERS)


def error_page(request: Request, status: int, message: str, code: str) -> Response:
    """An error as a console page (or a fragment, for htmx requests); 401 on a page that is
    not htmx redirects to the sign-in form."""
    user: ConsoleUser | None = getattr(request.state, "console_user", None)
    if status == 401 and request.method == "GET" and "hx-request" not in request.headers:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        from urllib.parse import quote

        return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")
    template = "fragments/error.html" if "hx-request" in request.headers else "error.html"
    return page(request, template, user, status=status, message=message, code=code,
                status_code=status)
