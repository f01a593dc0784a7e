"""/healthz tells whether transcription can run: a model configured and loadable."""

from __future__ import annotations

import dataclasses

import pytest

from siaga112.runtime import Runtime
from center.web import create_app


def health(settings, database, **changes) -> dict:
    runtime = Runtime(settings=dataclasses.replace(settings, **changes), database=database)
    response = create_app(runtime, {"TESTING": True}).test_client().get("/healthz")
    assert response.status_code == 200
    return response.get_json()["transcription"]


def test_no_model_configured_is_reported_unavailable(settings, database):
    assert health(settings, database) == {"status": "unavailable", "engine": "vosk", "model": None,
                                          "reason": "no speech model is configured"}


def test_a_folder_that_is_not_a_model_is_reported_unavailable(settings, database, tmp_path):
    folder = tmp_path / "not-a-model"
    folder.mkdir()

    assert health(settings, database, vosk_model=str(folder)) == {
        "status": "unavailable", "engine": "vosk", "model": str(folder), "reason": f"the speech model in {folder} cannot be loaded"}


@pytest.mark.speech
def test_a_loadable_model_is_reported_available(settings, database, model_path, vosk_model):
    assert health(settings, database, vosk_model=str(model_path)) == {"status": "available", "engine": "vosk", "model": str(model_path)}
