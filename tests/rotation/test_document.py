"""Parsing database secrets, and the alternating user names."""

from __future__ import annotations

import json

import pytest

from prizm.errors import InvalidDatabaseSecret, InvalidRotationRequest
from prizm.rotation.document import DatabaseSecret, alternate_username
from prizm.secrets import SecretValue
from tests.rotation.support import scan_error
from tests.support.canaries import Canaries


def parse(document: object, **options: str) -> DatabaseSecret:
    text = document if isinstance(document, str) else json.dumps(document)
    return DatabaseSecret.parse(
        SecretValue(text), secret="prizm/db", version="AWSCURRENT", **options
    )


def rejected(document: object, **options: str) -> InvalidDatabaseSecret:
    with pytest.raises(InvalidDatabaseSecret) as caught:
        parse(document, **options)
    scan_error(caught.value)
    return caught.value


class TestParse:
    def test_rds_document(self, canaries: Canaries) -> None:
        """The document RDS writes parses, with its port as a number."""
        password = canaries.make("rds")
        document = {
            "engine": "postgres",
            "host": "db.example.internal",
            "port": 5432,
            "username": "app",
            "password": password,
            "dbname": "orders",
            "dbInstanceIdentifier": "orders-1",
        }

        secret = parse(document)

        assert secret.address() == (
            "postgres user 'app' at db.example.internal:5432 (database 'orders')"
        )
        assert secret.password.reveal() == password
        assert "password" not in secret.fields
        assert password not in repr(secret)

    @pytest.mark.parametrize(
        ("engine", "port", "dbname"),
        [("postgres", 5432, "postgres"), ("redshift", 5439, "dev")],
        ids=["postgres", "redshift"],
    )
    def test_engine_defaults(
        self, canaries: Canaries, engine: str, port: int, dbname: str
    ) -> None:
        document = {
            "engine": engine,
            "host": "h",
            "username": "u",
            "password": canaries.make(),
        }

        secret = parse(document)

        assert (secret.port, secret.dbname) == (port, dbname)

    def test_port_as_text(self, canaries: Canaries) -> None:
        document = {
            "engine": "postgres",
            "host": "h",
            "port": "6432",
            "username": "u",
            "password": canaries.make(),
        }

        assert parse(document).port == 6432

    def test_master_without_engine(self, canaries: Canaries) -> None:
        """A master secret may omit the engine; the user secret's applies."""
        document = {"host": "h", "username": "u", "password": canaries.make()}

        assert parse(document, default_engine="redshift").is_redshift

    def test_with_login_keeps_keys(self, canaries: Canaries) -> None:
        document = {
            "engine": "postgres",
            "host": "h",
            "username": "u",
            "password": canaries.make(),
            "masterarn": "arn:aws:secretsmanager:us-east-1:1:secret:m",
            "ssl": True,
        }
        new_password = canaries.make("new")

        new = json.loads(
            parse(document).with_login("u_clone", SecretValue(new_password)).reveal()
        )

        assert new == {**document, "username": "u_clone", "password": new_password}


class TestRejected:
    def test_not_json(self, canaries: Canaries) -> None:
        """The decode error, which holds the whole text, is not chained."""
        error = rejected("{" + canaries.make("broken"))

        assert "not a JSON object" in error.message
        assert error.__cause__ is None
        assert error.__suppress_context__ is True

    def test_missing_engine(self, canaries: Canaries) -> None:
        error = rejected({"host": "h", "username": "u", "password": canaries.make()})

        assert "engine of secret 'prizm/db' (AWSCURRENT) is missing" in error.message

    def test_unsupported_engine(self, canaries: Canaries) -> None:
        document = {
            "engine": "mysql",
            "host": "h",
            "username": "u",
            "password": canaries.make(),
        }

        assert "'mysql'" in rejected(document).message

    @pytest.mark.parametrize("key", ["host", "username", "password"])
    def test_missing_key(self, canaries: Canaries, key: str) -> None:
        document = {
            "engine": "postgres",
            "host": "h",
            "username": "u",
            "password": canaries.make(),
        }
        del document[key]

        assert f"key '{key}'" in rejected(document).message

    @pytest.mark.parametrize(
        ("key", "value"),
        [("port", "fifty"), ("port", 70000), ("ssl", "maybe"), ("dbname", 5)],
        ids=["port-text", "port-range", "ssl", "dbname"],
    )
    def test_invalid_value(self, canaries: Canaries, key: str, value: object) -> None:
        document = {
            "engine": "postgres",
            "host": "h",
            "username": "u",
            "password": canaries.make(),
            key: value,
        }

        assert f"'{key}'" in rejected(document).message


class TestAlternateUsername:
    def test_round_trip(self) -> None:
        assert alternate_username("app") == "app_clone"
        assert alternate_username("app_clone") == "app"

    def test_too_long(self) -> None:
        with pytest.raises(InvalidRotationRequest) as caught:
            alternate_username("u" * 60)

        assert "too long" in caught.value.message
