"""What every FastAGI step is handed besides its AGI session: settings, the database, the hooks."""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.hooks import IvrHooks
from ivr.store import CallStore
from siaga112.journal import Journal
from siaga112.settings import Settings


@dataclass
class StepContext:
    settings: Settings
    store: CallStore
    hooks: IvrHooks = field(default_factory=IvrHooks)
    journal: Journal | None = None  # where writes the database could not take now are kept
