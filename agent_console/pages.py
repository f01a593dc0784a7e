"""Guards for console pages: sign-in first (a redirect, not a JSON error), then the role's scope."""

from __future__ import annotations

import functools

from urllib.parse import urlsplit

from flask import abort, g, redirect, request, url_for

from siaga112.web import follows_events


def page(scope: str):
    """Serve the page only to a signed-in user whose role holds `scope` (else login, or 403).

    Every such page follows the event stream (the screen-pop and the user's own state are on
    each), and so carries where its stream starts (`siaga112.web.follows_events`)."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if g.get("user") is None:
                return redirect(url_for("console.auth.login", next=request.full_path.rstrip("?")))
            if not g.principal.can(scope):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_scope = scope
        return follows_events(wrapped)

    return decorate


def safe_next(target: str | None) -> str | None:
    r"""A post-login address only if it is a path on this site (no open redirect).

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    `/\t/evil.example` and `/\evil.example` would leave the site: any control character,
    backslash or space refuses the address, as does anything with a scheme or a host.
    """
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") or len(target) > 2000:
        return None
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return target
