"""Every table of Siaga112, imported here so Alembic and the tests see the whole schema."""

from siaga112.models.alarms import Alarm, AlarmMessage, AlarmSite, ButtonEvent
from siaga112.models.calls import AmlMessage, Call, LocationFix
from siaga112.models.events import Event
from siaga112.models.idempotency import IdempotencyKey
from siaga112.models.incidents import Incident, IncidentEvent, IncidentUnit, Notification
from siaga112.models.location_links import LinkMedia, LinkSignal, LocationLink
from siaga112.models.people import ApiToken, AuditEntry, Reporter, User
from siaga112.models.places import Agency, Camera, CellTower, Jurisdiction, PointOfInterest, Unit
from siaga112.models.recordings import Recording, TranscriptionJob
from siaga112.models.reports import ServiceRequest
from siaga112.db import Base
from siaga112.storable import guard_columns

# Every text column takes any text from outside (NUL escaped, capped at its length): see storable.
guard_columns(Base.metadata)

__all__ = [
    "Agency", "Alarm", "AlarmMessage", "AlarmSite", "AmlMessage", "ApiToken", "AuditEntry",
    "ButtonEvent", "Call", "Camera", "CellTower", "Event", "IdempotencyKey", "Incident", "IncidentEvent", "IncidentUnit",
    "Jurisdiction", "LinkMedia", "LinkSignal", "LocationFix", "LocationLink", "Notification", "PointOfInterest", "Recording",
    "Reporter", "ServiceRequest",
    "TranscriptionJob", "Unit", "User",
]
