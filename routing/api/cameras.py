"""Cameras API: the CCTV cameras the console can open, optionally those near a point."""

from __future__ import annotations

from flask import Blueprint, jsonify

from routing.api.common import near_arg
from routing.cameras import list_cameras
from siaga112.auth import require
from siaga112.web import db

bp = Blueprint("cameras_api", __name__, url_prefix="/api/v1")


@bp.get("/cameras")
@require("incidents:read")
def index():
    near, radius = near_arg()
    return jsonify(cameras=list_cameras(db(), near, radius))
