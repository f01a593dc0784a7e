"""Every console page in Chromium under the Content-Security-Policy: nothing the policy refuses.

The policy forbids inline script and style attributes; a page that still had one would lose its
live queue or its map with nothing but a line in the browser's console, so the test listens for
that line and for the `securitypolicyviolation` event on every page a person can open.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from siaga112.db import utcnow
from siaga112.models import Incident, Reporter
from tests.console import factories
from tests.console.browser import WAIT_MS
from tests.console.test_supervisor_browser import recording_id  # noqa: F401  (a fixture)

pytestmark = pytest.mark.browser

# Installed before any page script runs (through the DevTools protocol, which the policy does not govern).
LISTEN_FOR_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _pages(call_id: int, incident_id: int, recording: int) -> list[str]:
    return [
        "/", "/callbacks", f"/calls/{call_id}", "/incidents", "/incidents/new", f"/incidents/new?call={call_id}",
        f"/incidents/{incident_id}", "/map",
        "/supervisor/", "/supervisor/?period=24h", "/supervisor/recordings", f"/supervisor/recordings/{recording}",
        "/supervisor/reporters", "/supervisor/audit", "/supervisor/exports",
        "/supervisor/admin/users", "/supervisor/admin/sites", "/supervisor/admin/units",
    ]


def test_every_console_page_loads_without_a_policy_violation(console, database, settings, new_page,
                                                              recording_id):  # noqa: F811
    from tests.console.browser import create_user, log_in

    factories.seed_demo_city(database, settings)
    lat, lon = factories.demo_point()
    call_id = factories.queued_call(database, caller_name="<img src=x onerror=alert(1)>", fix=(lat, lon, 30.0),
                                    transcript="<script>alert(1)</script> kebakaran")
    with database.session() as session:
        incident = Incident(category="fire", description="<b onmouseover=alert(1)>api</b>", lat=lat, lon=lon,
                            created_at=utcnow() - timedelta(minutes=3))
        session.add(incident)
        session.add(Reporter(phone="+6281111111111", strikes=3, blocked=True, blocked_at=utcnow(),
                             appeal_state="pending", appeal_text="tolong", appeal_at=utcnow()))
        session.flush()
        incident_id = incident.id

    page = new_page()
    page.context.add_init_script(LISTEN_FOR_VIOLATIONS)
    refused: list[str] = []
    page.on("console", lambda message: refused.append(f"{page.url}: {message.text}")
            if message.type == "error" and "Content Security Policy" in message.text else None)
    log_in(page, console, create_user(database, "admin"))

    for path in ["/login", *_pages(call_id, incident_id, recording_id)]:
        response = page.goto(console.url(path))
        assert response.status == 200, path
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        if path != "/login":
            page.wait_for_selector("body[data-ready]", timeout=WAIT_MS)
        violations = page.evaluate("window.__cspViolations")
        assert violations == [], f"{path}: {violations}"
    assert refused == []
