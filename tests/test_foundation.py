"""The project's frame: settings layers, migrations, accounts, tokens and the API's error form."""

from __future__ import annotations

from sqlalchemy import inspect

from siaga112.settings import load_settings


def test_settings_layers_environment_over_file_over_defaults(tmp_path):
    override = tmp_path / "site.toml"
    override.write_text('web_port = 9000\nlanguage = "en"\n')
    settings = load_settings(environ={"SIAGA112_CONFIG": str(override), "SIAGA112_WEB_PORT": "9100"})
    assert settings.web_port == 9100
    assert settings.language == "en"
    assert settings.agi_port == 4573


def test_migrations_create_every_table(database):
    from siaga112.db import Base

    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_user_create_reads_password_from_stdin(cli_runner, database):
    result = cli_runner.invoke(["user", "create", "ani", "--role", "supervisor", "--password-stdin"],
                               input="a long password\n")
    assert result.exit_code == 0, result.output
    assert "ani" in result.output


def test_token_create_refuses_unknown_scope(cli_runner):
    result = cli_runner.invoke(["token", "create", "panel-gw", "--scope", "everything"])
    assert result.exit_code != 0
    assert "scopes must be among" in result.output


def test_api_errors_are_json_with_slug_and_sentence(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["database"] == "ok"


def test_migrations_match_the_models(database):
    """A model changed without a migration would leave real databases behind the code."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from siaga112.db import Base

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
