"""The portal's login (a token, kept in an HttpOnly SameSite=Strict cookie) and logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openderms.web.auth import COOKIE, authenticator
from openderms.web.deps import TemplatesDep

router = APIRouter(include_in_schema=False)

HOME = "/portal/ders"


def _safe_next(path: str | None) -> str:
    """Only a local path is followed after login (no open redirect)."""
    if path and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return HOME


@router.get("/", response_class=RedirectResponse)
def root() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, templates: TemplatesDep, next: str | None = None) -> Response:
    context = {"next": _safe_next(next), "error": None}
    return templates.TemplateResponse(request, "login.html", context)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    templates: TemplatesDep,
    token: Annotated[str, Form()],
    next: Annotated[str, Form()] = HOME,
) -> Response:
    token = token.strip()
    if authenticator(request).actor(token) is None:
        context = {"next": _safe_next(next), "error": "This token is not known. Check it."}
        return templates.TemplateResponse(request, "login.html", context, status_code=401)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
    )
    return response


@router.post("/logout")
def logout() -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
