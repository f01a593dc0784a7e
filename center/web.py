"""The centre's web app: the frame's factory with every blueprint and health check, in one table."""

from __future__ import annotations

from flask import Flask

from siaga112.runtime import Runtime
from siaga112.web import make_app


def blueprints() -> list:
    """Every blueprint of the console and the API, in one explicit table."""
    from agent_console.events_api import bp as events_api
    from agent_console.supervisor import bp as supervisor
    from agent_console.views import bp as console
    from ivr.api import bp as calls_api
    from location_link.api import bp as location_link_api
    from location_link.phone_views import bp as location_link_phone
    from recordings.api import bp as recordings_api
    from routing.api import blueprints as routing_blueprints

    return [calls_api, recordings_api, events_api, *routing_blueprints, location_link_api, location_link_phone,
            console, supervisor]


def health_checks() -> dict:
    """Health of optional parts on /healthz: name -> function(runtime) -> dict."""
    from ivr.journal_health import call_journal_health
    from recordings.health import transcription_health
    from recordings.storage_health import recordings_storage_health
    from routing.alarms.journal import alarm_journal_health

    return {"transcription": transcription_health, "recordings_storage": recordings_storage_health,
            "call_journal": call_journal_health, "alarm_journal": alarm_journal_health}


def create_app(runtime: Runtime | None = None, test_config: dict | None = None) -> Flask:
    """The console and API of the whole centre around a runtime (settings, database, clients)."""
    from location_link import offers

    runtime = runtime or Runtime.from_settings()
    offers.provide(runtime)  # unlocated alarms are offered a location link
    return make_app(runtime, test_config, blueprints=blueprints(), health_checks=health_checks())
