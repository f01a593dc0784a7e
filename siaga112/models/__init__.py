"""Every table of Siaga112, imported here so Alembic and the tests see the whole schema."""

from siaga112.models.alarms import Alarm, AlarmSite
from siaga112.models.calls import AmlMessage, Call, LocationFix
from siaga112.models.events import Event
from siaga112.models.incidents import Incident, IncidentEvent
from siaga112.models.people import ApiToken, AuditEntry, Reporter, User
from siaga112.models.places import Agency, Camera, CellTower, Jurisdiction, PointOfInterest, Unit
from siaga112.models.recordings import Recording, TranscriptionJob

__all__ = [
    "Agency", "Alarm", "AlarmSite", "AmlMessage", "ApiToken", "AuditEntry", "Call", "Camera",
    "CellTower", "Event", "Incident", "IncidentEvent", "Jurisdiction", "LocationFix",
    "PointOfInterest", "Recording", "Reporter", "TranscriptionJob", "Unit", "User",
]
