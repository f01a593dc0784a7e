"""The pages scripts fill in (queue, call view, incident, floor, call-backs), read in Chromium as a
person sees them, in Bahasa Indonesia and in English: no word of the other language, no raw code,
and every time on the centre's clock in the one format. Screenshots in tests/artifacts/."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from siaga112 import i18n
from siaga112.models import Call
from tests.console.browser import shot
from tests.i18n import walk

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READ = """() => {
  const parts = [document.title, document.body.innerText];
  for (const node of document.querySelectorAll("[title], [placeholder], [aria-label]"))
    for (const name of ["title", "placeholder", "aria-label"]) if (node.getAttribute(name)) parts.push(node.getAttribute(name));
  return parts.join("\\n");
}"""
ONE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def centre(client, database, settings):
    from siaga112 import auth

    with database.session() as session:
        token = auth.create_token(session, "cad", ["incidents:write", "alarms:write"])
    return walk.populate(database, settings, client, {"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("lang", ["id", "en"])
def test_script_filled_pages_speak_one_language_and_one_clock(console, logged_in_page, database, centre, settings, lang):
    foreign = walk.foreign_words()
    failures = []
    pages = {"calltaker": ["/", f"/calls/{centre['call']}", f"/calls/{centre['silent_call']}", "/callbacks",
                           f"/incidents/{centre['incident']}", f"/incidents/new?alarm={centre['alarm']}"],
             "supervisor": ["/supervisor/", f"/incidents/{centre['by_address']}", "/supervisor/audit"]}
    for role, paths in pages.items():
        page = logged_in_page(role, language=lang)
        for path in paths:
            page.goto(console.url(path))
            page.wait_for_selector("body[data-ready]")
            if path == "/":
                expect(page.locator("#queue li")).not_to_have_count(0)
                expect(page.locator("#alarms li")).not_to_have_count(0)
            if path.startswith("/calls/"):
                expect(page.locator("#call-started")).not_to_be_empty()
            text = page.evaluate(READ)
            for problem in walk.problems(text, lang, foreign):
                failures.append(f"{lang} {role} {path}: {problem}: …{walk.around(text, problem)}…")
            shot(page, f"language-{lang}-{role}-{re.sub(r'[^a-z0-9]+', '-', path).strip('-') or 'queue'}")
    assert failures == [], "\n".join(failures)

    # One clock: the call view says when the call started as the floor and the server do (WIB).
    page = logged_in_page("calltaker", language=lang)
    page.goto(console.url(f"/calls/{centre['call']}"))
    started = page.locator("#call-started").inner_text()
    with database.session() as session:
        expected = i18n.local_time(session.get(Call, centre["call"]).started_at, tz=ZoneInfo(settings.timezone))
    assert ONE_FORMAT.match(started) and started == expected
