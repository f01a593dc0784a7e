"""Fixtures: settings, a migrated database (SQLite, and PostgreSQL when configured), app, clients."""

from __future__ import annotations

import os
import shutil
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from siaga112 import auth
from siaga112.db import Base, Database
from siaga112.migrate import upgrade
from siaga112.runtime import Runtime
from siaga112.settings import load_settings
from tests.support.data import shared_data_dir

POSTGRES_URL = os.environ.get("SIAGA112_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def postgres_database():
    """One scratch PostgreSQL database for the whole run, migrated once, dropped at the end."""
    if not POSTGRES_URL:
        pytest.skip("SIAGA112_TEST_POSTGRES_URL is not set")
    server = make_url(POSTGRES_URL)
    name = f"siaga112_test_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database = Database(server.set(database=name).render_as_string(hide_password=False))
    upgrade(database)
    yield database
    database.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(database: Database) -> None:
    """Empty every table and restart the ids, as a fresh database would have them.

    DELETE with the foreign-key triggers off (a superuser's `session_replication_role`) takes a
    few milliseconds where TRUNCATE takes seventy; without that right, TRUNCATE it is.
    """
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != "alembic_version"]
    with database.engine.begin() as connection:
        if connection.execute(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")).scalar():
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(tables):
                connection.execute(text(f'DELETE FROM "{table}"'))
            connection.execute(text(
                "SELECT setval(pg_get_serial_sequence(format('%I', table_name), column_name), 1, false) "
                "FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND column_default LIKE 'nextval(%'"))
        else:
            joined = ", ".join(f'"{t}"' for t in tables)
            connection.execute(text(f"TRUNCATE {joined} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """One migrated SQLite file; each test gets a copy (migrating each time took 0.2 s a test)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "siaga112.db"
    database = Database(f"sqlite:///{path}")
    upgrade(database)
    with database.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    """A migrated, empty database: an SQLite file per test, or the shared PostgreSQL emptied."""
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "siaga112.db")
        database = Database(f"sqlite:///{tmp_path / 'siaga112.db'}")
        yield database
        database.dispose()
    else:
        database = request.getfixturevalue("postgres_database")
        _empty_postgres(database)
        yield database


@pytest.fixture
def settings(tmp_path, database):
    """Settings for one test: its own data and recordings folders, no environment leaking in."""
    (tmp_path / "recordings").mkdir(exist_ok=True)
    return load_settings(
        overrides={
            "data_dir": str(tmp_path),
            "database_url": database.url,
            "recordings_dir": str(tmp_path / "recordings"),
            "secret_key": "test-secret",
            "web_port": 0,
            "agi_port": 0,
            "sia_port": 0,
            # Tests name the speech engine they use; the rest never load a model.
            "speech_engine": "vosk",
        },
        environ={},
    )


@pytest.fixture
def runtime(settings, database):
    return Runtime(settings=settings, database=database)


@pytest.fixture
def session(database):
    with database.session() as session:
        yield session


@pytest.fixture
def app(runtime):
    from center.web import create_app

    return create_app(runtime, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli_runner(runtime):
    """Runs `siaga112 ...` against this test's runtime (its database and folders)."""
    from center import cli as cli_module

    class Runner(CliRunner):
        def invoke(self, *args, **kwargs):
            context = cli_module.CliContext()
            context.settings = runtime.settings
            context._runtime = runtime
            kwargs.setdefault("obj", context)
            return super().invoke(cli_module.cli, *args, **kwargs)

    return Runner()


@pytest.fixture
def make_token(database):
    """make_token("alarms:write", ...) -> headers for a fresh bearer token.

    The client asks for English sentences (Accept-Language), as the API tests read them; with
    lang=None it asks for nothing and gets the centre's language (tests/i18n).
    """

    def make(*scopes: str, lang: str | None = "en") -> dict[str, str]:
        with database.session() as session:
            value = auth.create_token(session, f"test-{'-'.join(scopes)}", list(scopes))
        headers = {"Authorization": f"Bearer {value}"}
        if lang:
            headers["Accept-Language"] = lang
        return headers

    return make


@pytest.fixture
def make_user(database):
    """make_user("supervisor", username=..., phone_interface=...) -> (username, password)."""

    def make(role: str, username: str | None = None, phone_interface: str | None = None):
        username = username or f"{role}-{uuid.uuid4().hex[:6]}"
        password = "correct horse battery"
        with database.session() as session:
            auth.create_user(session, username, role, password, phone_interface=phone_interface)
        return username, password

    return make


@pytest.fixture
def shared_data():
    path = shared_data_dir()
    if path is None:
        pytest.skip("the shared test data (../shared/data, or SIAGA112_SHARED_DATA) is not present in this checkout")
    return path
