"""Resolving vault:// references through Azure Key Vault, against the fake over TLS."""

from __future__ import annotations

import json

import pytest

from prizm.connector_service import ConnectorService
from prizm.errors import InvalidReference, PrizmError
from prizm.integrations import IntegrationService
from prizm.providers.base import SecretRequest
from prizm.references import parse_reference
from prizm.store import open_store
from tests.providers.azure.support import (
    AzureFixture,
    error_of,
    resolve,
    resolve_one,
    resolver,
)
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli

PG_FIELDS = {"host": "db.example.com", "database": "app", "username": "app"}


def connector_add_args(name: str, fields: dict[str, str]) -> list[str]:
    args = ["connector", "add", "postgres", name]
    for key, value in fields.items():
        args += ["--field", f"{key}={value}"]
    return args


class TestValues:
    def test_key_of_json_secret(self, azure: AzureFixture, canaries: Canaries) -> None:
        password = canaries.make("password")
        azure.fake.vault.set_secret(
            "prizm-snowflake", json.dumps({"user": "app", "password": password})
        )
        azure.add_integration()

        assert resolve_one("vault://azure/prizm-snowflake#password") == password

    def test_first_request_gets_the_challenge(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("first", "v1")
        azure.add_integration()

        resolve_one("vault://azure/first")

        kinds = [kind for kind, _, _ in azure.fake.vault.requests]
        assert kinds == ["challenge", "get"]
        assert azure.fake.login.count("/oauth2/v2.0/token") == 1

    def test_whole_secret_returned_as_is(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        value = canaries.make("whole") + "\n  "
        azure.fake.vault.set_secret("plain", value)
        azure.add_integration()

        assert resolve_one("vault://azure/plain") == value

    def test_oversized_secret_bounded(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("huge", "x" * 65537)
        azure.fake.vault.set_secret("edge", "y" * 65536)
        azure.add_integration()

        error = error_of("vault://azure/huge")

        assert error.code == "value_too_large"
        assert "65536 bytes" in error.message
        assert len(resolve_one("vault://azure/edge")) == 65536

    def test_json_secret_without_key_is_whole_text(self, azure: AzureFixture) -> None:
        document = '{"user": "app", "port": 5432}'
        azure.fake.vault.set_secret("doc", document)
        azure.add_integration()

        assert resolve_one("vault://azure/doc") == document
        assert resolve_one("vault://azure/doc#port") == "5432"

    def test_latest_and_pinned_versions(self, azure: AzureFixture) -> None:
        first = azure.fake.vault.set_secret("rotated", '{"k": "one"}')
        azure.fake.vault.set_secret("rotated", '{"k": "two"}')
        azure.add_integration()

        outcomes = resolve(
            {
                "now": "vault://azure/rotated#k",
                "before": f"vault://azure/rotated?version={first}#k",
            }
        )

        assert outcomes["now"].value.reveal() == "two"  # type: ignore[attr-defined]
        assert outcomes["before"].value.reveal() == "one"  # type: ignore[attr-defined]

    def test_source_names_identifier_and_version(self, azure: AzureFixture) -> None:
        version = azure.fake.vault.set_secret("sourced", '{"k": "v"}')
        azure.add_integration()

        outcome = resolver().resolve({"f": "vault://azure/sourced#k"}).values["f"]

        expected_id = f"{azure.fake.vault_url}/secrets/sourced/{version}"
        assert outcome.source.secret_id == expected_id
        assert outcome.source.version_id == version
        assert outcome.source.provider == "azure"
        assert outcome.source.integration == "azure"
        assert outcome.source.created is not None

    def test_names_are_case_insensitive(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("Db-Pass", '{"k": "v"}')
        azure.add_integration()

        outcomes = resolve(
            {"a": "vault://azure/Db-Pass#k", "b": "vault://azure/db-pass#k"}
        )

        assert outcomes["a"].value.reveal() == "v"  # type: ignore[attr-defined]
        assert outcomes["b"].value.reveal() == "v"  # type: ignore[attr-defined]
        assert azure.fake.vault.counts()["get"] == 1

    def test_value_is_masked(self, azure: AzureFixture, canaries: Canaries) -> None:
        password = canaries.make("masked")
        azure.fake.vault.set_secret("masked", json.dumps({"p": password}))
        azure.add_integration()

        outcome = resolver().resolve({"f": "vault://azure/masked#p"}).values["f"]

        assert password not in repr(outcome)
        assert password not in str(outcome.value)


class TestConcurrency:
    def test_one_call_per_distinct_secret(self, azure: AzureFixture) -> None:
        azure.add_integration()
        provider = IntegrationService(open_store()).provider("azure")
        requests = [
            SecretRequest("a"),
            SecretRequest("b"),
            SecretRequest("a"),
            SecretRequest("a", (("version", "0" * 32),)),
        ]

        calls = provider.plan_fetch(requests)

        assert len(calls) == 3

    def test_each_secret_fetched_once(self, azure: AzureFixture) -> None:
        for index in range(5):
            azure.fake.vault.set_secret(f"s{index}", json.dumps({"u": "x", "p": "y"}))
        azure.add_integration()
        references = {}
        for index in range(5):
            references[f"u{index}"] = f"vault://azure/s{index}#u"
            references[f"p{index}"] = f"vault://azure/s{index}#p"

        resolution = resolver().resolve(references)

        assert resolution.ok
        assert resolution.calls == 5
        assert azure.fake.vault.counts()["get"] == 5

    def test_fetches_overlap_in_time(self, azure: AzureFixture) -> None:
        for index in range(4):
            azure.fake.vault.set_secret(f"slow{index}", "v")
        azure.add_integration()
        resolve_one("vault://azure/slow0")
        azure.fake.vault.delay = 0.5

        resolution = resolver().resolve(
            {f"f{index}": f"vault://azure/slow{index}" for index in range(4)}
        )

        assert resolution.ok
        assert resolution.seconds < 1.5


class TestReferences:
    def test_first_integration_named_azure(self, azure: AzureFixture) -> None:
        name = azure.add_integration()

        second = run_cli(
            [
                "integration",
                "add",
                "azure",
                "--vault-url",
                azure.fake.vault_url,
                "--auth",
                "managed-identity",
            ]
        )

        assert name == "azure"
        assert second.status == 1
        assert "error[integration_exists]" in second.err

    def test_slash_name_suggests_dashes(self, azure: AzureFixture) -> None:
        azure.add_integration()

        error = error_of("vault://azure/prizm/snowflake#password")

        assert error.code == "invalid_reference"
        assert "'prizm-snowflake'" in error.text
        assert "letters, digits and dashes" in error.text
        assert azure.fake.vault.requests == []

    def test_underscore_and_dot_rejected(self, azure: AzureFixture) -> None:
        azure.add_integration()

        underscore = error_of("vault://azure/db_password")
        dot = error_of("vault://azure/db.password")

        assert underscore.code == "invalid_reference"
        assert "'db-password'" in underscore.text
        assert dot.code == "invalid_reference"
        assert "'db-password'" in dot.text

    def test_other_characters_rejected_without_suggestion(
        self, azure: AzureFixture
    ) -> None:
        azure.add_integration()

        error = error_of("vault://azure/team+a@b")

        assert error.code == "invalid_reference"
        assert "cannot name a secret" in error.text

    def test_name_longer_than_127_rejected(self, azure: AzureFixture) -> None:
        azure.add_integration()

        assert error_of("vault://azure/" + "a" * 128).code == "invalid_reference"
        assert error_of("vault://azure/" + "a" * 127).code == "secret_not_found"

    def test_name_rule_applies_when_saving(self, azure: AzureFixture) -> None:
        azure.add_integration()

        parsed = resolver().parse({"password": "vault://azure/prizm/snowflake"})

        assert isinstance(parsed["password"], PrizmError)
        assert "'prizm-snowflake'" in parsed["password"].text

    def test_secret_field_keeps_dashed_suggestion(self, azure: AzureFixture) -> None:
        azure.add_integration()
        fields = dict(PG_FIELDS, password="vault://azure/prizm/snowflake#password")

        with pytest.raises(InvalidReference) as caught:
            ConnectorService(open_store()).add("postgres", "pg1", fields)

        assert "is secret" in caught.value.message
        assert "'prizm-snowflake'" in caught.value.hint
        assert "vault://azure/prizm-snowflake#password" in caught.value.hint

    def test_cli_secret_field_keeps_dashed_suggestion(
        self, azure: AzureFixture
    ) -> None:
        azure.add_integration()
        fields = dict(PG_FIELDS, password="vault://azure/prizm/snowflake#password")

        result = run_cli(connector_add_args("pg1", fields))

        assert result.status == 1
        assert "error[invalid_reference]" in result.err
        assert "write vault://azure/prizm-snowflake#password" in result.err

    def test_literal_in_secret_field_not_echoed(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        azure.add_integration()
        # It starts with "vault:" but is not a reference, so it may be a password.
        literal = "vault:/azure/" + canaries.make_plain("pass_word")
        fields = dict(PG_FIELDS, password=literal)

        result = run_cli(connector_add_args("pg1", fields))

        assert result.status == 1
        assert "error[invalid_reference]" in result.err
        assert "pass-word" not in result.err

    def test_aws_options_rejected(self, azure: AzureFixture) -> None:
        azure.add_integration()

        error = error_of("vault://azure/x?version-stage=AWSCURRENT")

        assert error.code == "invalid_reference"
        assert "?version=<id>" in error.text

    def test_malformed_version_rejected(self, azure: AzureFixture) -> None:
        azure.add_integration()

        assert error_of("vault://azure/x?version=latest").code == "invalid_reference"

    def test_request_normalises_case(self, azure: AzureFixture) -> None:
        azure.add_integration()
        provider = IntegrationService(open_store()).provider("azure")
        version = "AB" * 16

        request = provider.request_for(
            parse_reference(f"vault://azure/My-Secret?version={version}")
        )

        assert request == SecretRequest("my-secret", (("version", "ab" * 16),))


class TestValueErrors:
    def test_key_needs_json(self, azure: AzureFixture, canaries: Canaries) -> None:
        azure.fake.vault.set_secret("text", canaries.make("text"))
        azure.add_integration()

        error = error_of("vault://azure/text#password")

        assert error.code == "not_json"
        assert azure.fake.vault_url in error.text

    def test_missing_key(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("keys", '{"user": "u"}')
        azure.add_integration()

        error = error_of("vault://azure/keys#password")

        assert error.code == "key_not_found"
        assert "'user'" in error.text

    def test_empty_secret(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("empty", "")
        azure.add_integration()

        assert error_of("vault://azure/empty").code == "empty_value"

    def test_one_failure_does_not_blank_others(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("good", '{"k": "fine"}')
        azure.add_integration()

        resolution = resolver().resolve(
            {"a": "vault://azure/good#k", "b": "vault://azure/missing#k"}
        )

        assert resolution.values["a"].value.reveal() == "fine"
        assert resolution.errors["b"].code == "secret_not_found"
