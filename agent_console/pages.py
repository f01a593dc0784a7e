"""Guards for console pages: sign-in first (a redirect, not a JSON error), then the role's scope."""

from __future__ import annotations

import functools

from flask import abort, g, redirect, request, url_for


def page(scope: str):
    """Serve the page only to a signed-in user whose role holds `scope` (else login, or 403)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("user") is None:
                return redirect(url_for("console.auth.login", next=request.full_path.rstrip("?")))
            if not g.principal.can(scope):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_scope = scope
        return wrapped

    return decorate


def safe_next(target: str | None) -> str | None:
    """A post-login address only if it stays on this site (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
