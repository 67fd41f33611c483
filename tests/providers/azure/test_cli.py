"""``prizm integration add|update azure`` and the generic commands on Key Vault."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.providers.azure.support import AzureFixture, error_of, resolve_one
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli, run_cli_process


def add_args(azure: AzureFixture, *extra: str) -> list[str]:
    return [
        "integration",
        "add",
        "azure",
        "--vault-url",
        azure.fake.vault_url,
        "--ca-bundle",
        str(azure.tls.ca),
        *extra,
    ]


def client_secret_args(azure: AzureFixture) -> list[str]:
    return [
        "--auth",
        "client-secret",
        "--tenant-id",
        azure.fake.login.tenant_id,
        "--client-id",
        azure.app.client_id,
        "--authority-host",
        azure.fake.authority,
        "--client-secret-stdin",
    ]


class TestAdd:
    def test_client_secret_from_stdin(self, azure: AzureFixture) -> None:
        result = run_cli(
            add_args(azure, *client_secret_args(azure), "--json"),
            stdin=azure.app.client_secret + "\n",
        )

        assert result.status == 0, result.err
        data = json.loads(result.out)
        assert data["name"] == "azure"
        assert data["type"] == "azure"
        assert data["settings"]["client_secret"] == "(set)"
        assert data["location"] == f"vault {azure.fake.vault_url}"
        assert azure.app.client_id in data["auth"]

    def test_secret_sealed_in_store(
        self, azure: AzureFixture, prizm_home: Path
    ) -> None:
        azure.add_integration()

        stored = b"".join(
            path.read_bytes() for path in prizm_home.rglob("*") if path.is_file()
        )

        assert azure.app.client_secret.encode() not in stored
        assert azure.app.client_id.encode() in stored

    def test_show_and_list_hide_secret(self, azure: AzureFixture) -> None:
        azure.add_integration()

        shown = run_cli(["integration", "show", "azure"])
        listed = run_cli(["integration", "list"])

        assert "client_secret: (set)" in shown.out
        assert "Azure Key Vault" in shown.out
        assert "azure" in listed.out
        assert "client-secret" in listed.out

    def test_needs_secret_on_stdin(self, azure: AzureFixture) -> None:
        args = add_args(azure, *client_secret_args(azure)[:-1])

        result = run_cli(args)

        assert result.status == 2
        assert "error[usage_error]" in result.err
        assert "--client-secret-stdin" in result.err

    def test_empty_stdin_rejected(self, azure: AzureFixture) -> None:
        result = run_cli(add_args(azure, *client_secret_args(azure)), stdin="\n")

        assert result.status == 2
        assert "empty" in result.err

    def test_needs_vault_url_and_auth(self) -> None:
        result = run_cli(["integration", "add", "azure"])

        assert result.status == 2
        assert "--vault-url" in result.err

    def test_unknown_auth(self, azure: AzureFixture) -> None:
        result = run_cli(add_args(azure, "--auth", "password"))

        assert result.status == 2
        assert "client-secret, client-certificate, managed-identity" in result.err

    def test_vault_url_outside_key_vault(self) -> None:
        result = run_cli(
            [
                "integration",
                "add",
                "azure",
                "--vault-url",
                "https://vault.example.com",
                "--auth",
                "managed-identity",
            ]
        )

        assert result.status == 1
        assert "error[invalid_integration]" in result.err
        assert "vault.azure.net" in result.err

    def test_sovereign_vault(self) -> None:
        result = run_cli(
            [
                "integration",
                "add",
                "azure",
                "china",
                "--vault-url",
                "https://kv1.vault.azure.cn",
                "--auth",
                "managed-identity",
                "--json",
            ]
        )

        assert result.status == 0, result.err
        assert json.loads(result.out)["location"] == "vault https://kv1.vault.azure.cn"

    def test_unknown_chain_member(self, azure: AzureFixture) -> None:
        result = run_cli(
            add_args(azure, "--auth", "default", "--exclude-credential", "browser")
        )

        assert result.status == 2
        assert "workload-identity" in result.err

    def test_missing_certificate_file(
        self, azure: AzureFixture, tmp_path: Path
    ) -> None:
        result = run_cli(
            add_args(
                azure,
                "--auth",
                "client-certificate",
                "--tenant-id",
                azure.fake.login.tenant_id,
                "--client-id",
                azure.app.client_id,
                "--certificate-file",
                str(tmp_path / "missing.pem"),
            )
        )

        assert result.status == 2
        assert "missing.pem" in result.err

    def test_relative_certificate_path_stored_absolute(
        self, azure: AzureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(azure.tls.client_pem.parent)

        azure.add_integration(
            auth="client-certificate", certificate_file=azure.tls.client_pem.name
        )
        shown = run_cli(["integration", "show", "azure", "--json"])

        stored = json.loads(shown.out)["settings"]["certificate_file"]
        assert stored == str(azure.tls.client_pem)


class TestUpdate:
    def test_new_client_secret(self, azure: AzureFixture, canaries: Canaries) -> None:
        azure.fake.vault.set_secret("s", "v")
        azure.add_integration(client_secret=canaries.make("old"))
        assert error_of("vault://azure/s").code == "invalid_credentials"

        result = run_cli(
            ["integration", "update", "azure", "azure", "--client-secret-stdin"],
            stdin=azure.app.client_secret + "\n",
        )

        assert result.status == 0, result.err
        assert resolve_one("vault://azure/s") == "v"

    def test_switch_to_managed_identity_clears_secret(
        self, azure: AzureFixture
    ) -> None:
        azure.add_integration()

        result = run_cli(
            [
                "integration",
                "update",
                "azure",
                "azure",
                "--auth",
                "managed-identity",
                "--json",
            ]
        )

        assert result.status == 0, result.err
        settings = json.loads(result.out)["settings"]
        assert settings["auth"] == "managed-identity"
        assert "client_secret" not in settings
        assert "tenant_id" not in settings
        assert "client_id" not in settings

    def test_switch_between_app_methods_keeps_client(self, azure: AzureFixture) -> None:
        azure.add_integration()

        result = run_cli(
            [
                "integration",
                "update",
                "azure",
                "azure",
                "--auth",
                "client-certificate",
                "--certificate-file",
                str(azure.tls.client_pem),
                "--json",
            ]
        )

        assert result.status == 0, result.err
        settings = json.loads(result.out)["settings"]
        assert settings["client_id"] == azure.app.client_id
        assert settings["tenant_id"] == azure.fake.login.tenant_id
        assert "client_secret" not in settings

    def test_empty_value_clears_option(self, azure: AzureFixture) -> None:
        azure.add_integration(read_timeout="3")
        clear = ["integration", "update", "azure", "azure", "--authority-host", ""]

        without_secret = run_cli([*clear, "--json"])
        result = run_cli(
            [*clear, "--client-secret-stdin", "--json"],
            stdin=azure.app.client_secret + "\n",
        )

        assert without_secret.status == 1
        assert (
            "must be entered again"
            in json.loads(without_secret.out)["error"]["message"]
        )
        assert result.status == 0, result.err
        assert "authority_host" not in json.loads(result.out)["settings"]

    def test_invalid_change_rejected(self, azure: AzureFixture) -> None:
        azure.add_integration()

        result = run_cli(
            ["integration", "update", "azure", "azure", "--vault-url", "http://x"]
        )

        assert result.status == 1
        assert "error[invalid_integration]" in result.err

    def test_unknown_integration(self) -> None:
        result = run_cli(
            ["integration", "update", "azure", "nope", "--max-retries", "1"]
        )

        assert result.status == 1
        assert "error[unknown_integration]" in result.err


class TestGenericCommands:
    @pytest.mark.reveals_values
    def test_secret_get_prints_value(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        password = canaries.make("get")
        version = azure.fake.vault.set_secret("db", json.dumps({"password": password}))
        azure.add_integration()

        plain = run_cli(["secret", "get", "vault://azure/db#password"], reveals=True)
        as_json = run_cli(
            ["secret", "get", "vault://azure/db#password", "--json"], reveals=True
        )

        assert plain.out == password + "\n"
        source = json.loads(as_json.out)["source"]
        assert source["version_id"] == version
        assert source["secret_id"].endswith(f"/secrets/db/{version}")

    def test_secret_get_error(self, azure: AzureFixture) -> None:
        azure.add_integration()

        result = run_cli(["secret", "get", "vault://azure/prizm/db"])

        assert result.status == 1
        assert "error[invalid_reference]" in result.err
        assert "prizm-db" in result.err

    def test_remove(self, azure: AzureFixture) -> None:
        azure.add_integration()

        removed = run_cli(["integration", "remove", "azure"])
        listed = run_cli(["integration", "list", "--json"])

        assert removed.status == 0
        assert json.loads(listed.out) == []


@pytest.mark.slow
class TestProcess:
    @pytest.mark.reveals_values
    def test_add_and_get_in_child_processes(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        password = canaries.make("process")
        azure.fake.vault.set_secret("db", json.dumps({"password": password}))

        added = run_cli_process(
            add_args(azure, *client_secret_args(azure)),
            stdin=azure.app.client_secret + "\n",
        )
        got = run_cli_process(
            ["secret", "get", "vault://azure/db#password"], reveals=True
        )

        assert added.status == 0, added.err
        assert got.status == 0, got.err
        assert got.out == password + "\n"

    def test_test_command_in_child_process(self, azure: AzureFixture) -> None:
        azure.fake.vault.set_secret("db", '{"user": "app"}')
        azure.add_integration()

        result = run_cli_process(
            ["integration", "test", "azure", "--secret", "db#user"]
        )

        assert result.status == 0, result.err
        assert "Result: passed" in result.out

    def test_failure_prints_one_line(
        self, azure: AzureFixture, canaries: Canaries
    ) -> None:
        azure.add_integration(client_secret=canaries.make("wrong"))

        result = run_cli_process(["secret", "get", "vault://azure/db"])

        assert result.status == 1
        assert result.err.startswith("error[invalid_credentials]: ")
        assert len(result.err.strip().splitlines()) == 1
