"""Every console page, for every role, with a centre full of records, in Bahasa Indonesia and in
English: no word of the other language and no raw code may show (tests/i18n/walk.py says how
that is read). The pages scripts fill in are walked in Chromium in test_every_page_browser.py."""

from __future__ import annotations

import pytest

from tests.console import factories
from tests.i18n import walk

pytestmark = pytest.mark.slow


@pytest.fixture
def centre(app, client, database, settings):
    from siaga112 import auth

    with database.session() as session:  # a CAD bridge's token, named as a centre would name it
        token = auth.create_token(session, "cad", ["incidents:write", "alarms:write"])
    return walk.populate(database, settings, client, {"Authorization": f"Bearer {token}"})


def _signed_in(app, database, role: str, lang: str):
    from tests.console.browser import create_user

    client = app.test_client()
    username = create_user(database, role, language=lang)
    factories.client_login(client, username)
    return client


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_page_of_every_role_speaks_one_language_without_codes(app, database, centre, lang):
    foreign = walk.foreign_words()
    failures = []
    for role in walk.ROLES:
        client = _signed_in(app, database, role, lang)
        for path in walk.pages(centre):
            response = client.get(path)
            if response.status_code in (301, 302, 303):
                continue
            html = response.get_data(as_text=True)
            assert f'<html lang="{lang}">' in html, f"{role} {path}: {response.status_code} is not a console page"
            text = walk.visible_text(html)
            for problem in walk.problems(text, lang, foreign):
                failures.append(f"{lang} {role} {path} ({response.status_code}): {problem}: …{walk.around(text, problem)}…")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("lang", ["id", "en"])
def test_the_sign_in_page_and_a_signed_out_error_speak_the_chosen_language(client, lang):
    if lang == "en":
        client.post("/language", data={"lang": "en", "csrf_token": factories.csrf_token(client.get("/login").get_data(as_text=True))})
    foreign = walk.foreign_words()
    for path in ("/login", "/no/such/page"):
        text = walk.visible_text(client.get(path).get_data(as_text=True))
        assert walk.problems(text, lang, foreign) == [], (path, text)


def test_api_errors_keep_their_code_and_speak_the_asked_language(client, make_token, database, settings):
    factories.seed_demo_city(database, settings)
    plain = make_token("incidents:write", lang=None)
    english = {**plain, "Accept-Language": "en-GB,en;q=0.8"}
    made = client.post("/api/v1/incidents", json={"category": "fire", "location": {"lat": -7.97, "lon": 112.63}},
                       headers=plain).get_json()
    for headers, words in ((plain, "Tidak ada unit NOPE-1."), (english, "There is no unit NOPE-1.")):
        error = client.post(f"/api/v1/incidents/{made['id']}/dispatch", json={"units": ["NOPE-1"]},
                            headers=headers).get_json()["error"]
        assert (error["code"], error["message"]) == ("unknown_units", words)
    missing = client.get("/api/v1/no/such", headers=plain).get_json()["error"]
    assert (missing["code"], missing["message"]) == ("not_found", "Tidak ada apa-apa di alamat ini.")


def test_incident_history_and_audit_log_are_stored_as_data_and_read_in_either_language(app, database, centre):
    from siaga112.models import AuditEntry, IncidentEvent

    with database.session() as session:
        dispatched = session.query(IncidentEvent).filter(IncidentEvent.incident_id == centre["incident"],
                                                         IncidentEvent.status == "dispatched").first()
        assert dispatched.note is None and dispatched.detail["event"]["id"] == "history.dispatched"
        entry = session.query(AuditEntry).filter_by(action="incident.dispatch").first()
        assert isinstance(entry.detail["units"], list)
    pages = {lang: _signed_in(app, database, "supervisor", lang) for lang in ("id", "en")}
    page = {lang: walk.visible_text(client.get(f"/incidents/{centre['incident']}").get_data(as_text=True))
            for lang, client in pages.items()}
    assert "Dibuat dari panggilan" in page["id"] and "Unit dikirim:" in page["id"]
    assert "Created from call" in page["en"] and "Dispatched " in page["en"]
    assert "aturan mengirim Damkar" in page["id"] and "the rules send Fire and rescue service (Damkar)" in page["en"]
    log = {lang: walk.visible_text(client.get("/supervisor/audit").get_data(as_text=True)) for lang, client in pages.items()}
    assert "Unit dikirim" in log["id"] and "Units dispatched" in log["en"]
    for text in log.values():
        assert "None" not in text and "['" not in text and "{'" not in text


@pytest.mark.parametrize("lang, words", [
    ("id", "Unit Damkar (pemadam kebakaran dan penyelamatan) berjenis Mobil pemadam, Regu penyelamat atau Mobil tangki air, bukan hovercraft."),
    ("en", "A Fire and rescue service (Damkar) unit is one of Fire engine, Rescue team or Water tanker, not hovercraft."),
])
def test_admin_refusals_are_sentences_in_the_admins_language(app, database, settings, lang, words):
    factories.seed_demo_city(database, settings)
    admin = _signed_in(app, database, "admin", lang)
    token = factories.csrf_token(admin.get("/supervisor/admin/units").get_data(as_text=True))
    page = admin.post("/supervisor/admin/units", data={"csrf_token": token, "callsign": "DAMKAR-99", "agency": "damkar",
                                                       "kind": "hovercraft"}, follow_redirects=True)
    assert words in walk.visible_text(page.get_data(as_text=True))
