"""Jurisdictions, points of interest, agencies, their field units, cell towers and cameras."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from siaga112.db import Base, UTCDateTime, utcnow


class Jurisdiction(Base):
    """A kota, kecamatan or kelurahan with its boundary (GeoJSON geometry)."""

    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(16), index=True)  # kota, kecamatan, kelurahan
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    parent_code: Mapped[str | None] = mapped_column(String(32))
    parent_name: Mapped[str | None] = mapped_column(String(120))  # the kota of a kecamatan, the kecamatan of a kelurahan
    police_sector: Mapped[str | None] = mapped_column(String(120))
    geometry: Mapped[dict] = mapped_column(JSON)
    centroid_lat: Mapped[float | None] = mapped_column(Float)
    centroid_lon: Mapped[float | None] = mapped_column(Float)
    # Bumped on every change, so each process's routing index knows when to reload places.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Agency(Base):
    """An agency the routing rules name: police, Damkar, PSC 119, BPBD, ..."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sms_number: Mapped[str | None] = mapped_column(String(32))

    units: Mapped[list["Unit"]] = relationship(back_populates="agency")


class Unit(Base):
    """A field unit with its last GPS fix and status."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    callsign: Mapped[str] = mapped_column(String(40), unique=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="patrol")
    status: Mapped[str] = mapped_column(String(16), default="available", index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    # "gps": reported by the unit, stale after unit_stale_seconds of silence; "post": where the
    # unit is stationed (registered by an admin), which does not go stale.
    position_source: Mapped[str | None] = mapped_column(String(8))
    # True once the staleness job has announced this unit's position as unknown.
    position_stale: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every change, so the routing index of every process picks up moves and status.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, index=True)

    agency = relationship("Agency", back_populates="units")


class PointOfInterest(Base):
    """A police station, hospital, puskesmas, fire station, ... that routing can recommend."""

    __tablename__ = "pois"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    agency_code: Mapped[str | None] = mapped_column(String(40))
    properties: Mapped[dict | None] = mapped_column(JSON)
    # The feature's id in its source file, so a second import updates instead of duplicating.
    source_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CellTower(Base):
    """A cell in OpenCelliD's terms, for a coarse fix of a caller whose network names the cell."""

    __tablename__ = "cell_towers"
    __table_args__ = (UniqueConstraint("mcc", "mnc", "area", "cell"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    radio: Mapped[str] = mapped_column(String(8))
    mcc: Mapped[int] = mapped_column(Integer)
    mnc: Mapped[int] = mapped_column(Integer)
    area: Mapped[int] = mapped_column(Integer)
    cell: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float | None] = mapped_column(Float)
    samples: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Camera(Base):
    """A CCTV camera the routing result can list near an incident."""

    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    stream_url: Mapped[str | None] = mapped_column(Text)
    snapshot_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
