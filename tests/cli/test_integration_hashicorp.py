"""``prizm integration add|update|test|show hashicorp`` against a real OpenBao."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli, run_cli_process
from tests.support.openbao import Bao, OpenBaoServer


def show(name: str = "hashicorp") -> dict[str, object]:
    result = run_cli(["integration", "show", name, "--json"])
    assert result.status == 0, result.err
    data: dict[str, object] = json.loads(result.out)
    return data


def settings_of(name: str = "hashicorp") -> dict[str, object]:
    settings = show(name)["settings"]
    assert isinstance(settings, dict)
    return settings


class TestAdd:
    def test_default_name_and_masked_token(self, bao: Bao) -> None:
        token = bao.token()

        result = bao.add(stdin=token + "\n", extra=["--token-stdin"])

        assert result.status == 0, result.err
        assert "Added HashiCorp Vault integration 'hashicorp'" in result.out
        settings = settings_of()
        assert settings["token"] == "(set)"
        assert settings["address"] == bao.address
        assert settings["auth"] == "token"

    def test_token_is_encrypted_in_store(self, bao: Bao, prizm_home: Path) -> None:
        token = bao.token()
        bao.add_token(token)

        record = open_store().integrations.get("hashicorp")

        assert "token" not in record.settings
        assert open_store().integrations.credentials(record)["token"] == token

    def test_second_without_name_is_rejected(self, bao: Bao) -> None:
        bao.add_token()

        result = bao.add(stdin=bao.token() + "\n", extra=["--token-stdin"])

        assert result.status == 1
        assert "error[integration_exists]" in result.err
        assert "hashicorp-2" in result.err

    def test_http_needs_allow_http(self, bao: Bao) -> None:
        result = run_cli(
            [
                "integration",
                "add",
                "hashicorp",
                "--address",
                bao.address,
                "--token-stdin",
            ],
            stdin=bao.token() + "\n",
        )

        assert result.status == 1
        assert "error[invalid_integration]" in result.err
        assert "https" in result.err

    def test_approle_needs_secret_id(self, bao: Bao) -> None:
        result = bao.add(auth="approle", extra=["--role-id", "r"])

        assert result.status == 2
        assert "--secret-id-stdin" in result.err

    def test_unknown_auth_method(self, bao: Bao) -> None:
        result = bao.add(auth="ldap")

        assert result.status == 2
        assert "token, approle, kubernetes, userpass" in result.err

    def test_fields_of_other_method_rejected(self, bao: Bao) -> None:
        result = bao.add(
            stdin=bao.token() + "\n", extra=["--token-stdin", "--username", "u"]
        )

        assert result.status == 1
        assert "token authentication takes no username" in result.err

    def test_missing_ca_file(self, bao: Bao, tmp_path: Path) -> None:
        result = bao.add(
            stdin=bao.token() + "\n",
            extra=["--token-stdin", "--ca-cert", str(tmp_path / "none.pem")],
        )

        assert result.status == 2
        assert "--ca-cert" in result.err

    def test_secret_id_shown_as_set(self, bao: Bao, canaries: Canaries) -> None:
        role_id, secret_id = bao.approle()

        result = bao.add(
            "by-role",
            auth="approle",
            stdin=secret_id + "\n",
            extra=["--role-id", role_id, "--secret-id-stdin", "--namespace", "team"],
        )

        assert result.status == 0, result.err
        settings = settings_of("by-role")
        assert settings["secret_id"] == "(set)"
        assert settings["role_id"] == role_id
        listed = json.loads(run_cli(["integration", "list", "--json"]).out)
        assert listed[0]["auth"] == "approle at auth/approle"
        assert listed[0]["location"] == f"address {bao.address}, namespace team"


class TestUpdate:
    def test_switch_token_to_approle(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        bao.add_token()
        role_id, secret_id = bao.approle()

        result = run_cli(
            [
                "integration",
                "update",
                "hashicorp",
                "hashicorp",
                "--auth",
                "approle",
                "--role-id",
                role_id,
                "--secret-id-stdin",
            ],
            stdin=secret_id + "\n",
        )

        assert result.status == 0, result.err
        settings = settings_of()
        assert settings["auth"] == "approle"
        assert "token" not in settings
        value = run_cli(
            ["secret", "get", f"vault://hashicorp/secret/{bao.path('db')}#k"],
            reveals=True,
        )
        assert value.out == "v\n"

    def test_clear_namespace(self, bao: Bao) -> None:
        bao.add_token(extra=["--namespace", "team"])

        result = run_cli(
            ["integration", "update", "hashicorp", "hashicorp", "--namespace", ""]
        )

        assert result.status == 0, result.err
        assert "namespace" not in settings_of()

    def test_new_token_replaces_old(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        old = bao.token()
        bao.add_token(old)
        bao.root().auth.token.revoke(old)
        reference = f"vault://hashicorp/secret/{bao.path('db')}#k"
        assert run_cli(["secret", "get", reference]).status == 1

        result = run_cli(
            ["integration", "update", "hashicorp", "hashicorp", "--token-stdin"],
            stdin=bao.token() + "\n",
        )

        assert result.status == 0, result.err
        assert run_cli(["secret", "get", reference], reveals=True).out == "v\n"


class TestTestConnection:
    def test_all_steps_pass_without_values(self, bao: Bao, canaries: Canaries) -> None:
        password = canaries.make("test-connection")
        bao.put("db", {"user": "app", "password": password})
        bao.put("legacy", {"password": password}, mount="kv1")
        bao.add_token()

        result = run_cli(
            [
                "integration",
                "test",
                "hashicorp",
                "--secret",
                f"secret/{bao.path('db')}#password",
                "--secret",
                f"vault://hashicorp/kv1/{bao.path('legacy')}",
            ]
        )

        assert result.status == 0, result.out
        assert "Server" in result.out
        assert "policies default, reader" in result.out
        assert "secret/ (KV v2)" in result.out
        assert "kv1/ (KV v1)" in result.out
        assert "keys: password, user; key 'password' found" in result.out
        assert "Result: passed" in result.out

    def test_json_report_lists_keys(self, bao: Bao) -> None:
        bao.put("db", {"user": "app"})
        bao.add_token()

        result = run_cli(
            [
                "integration",
                "test",
                "hashicorp",
                "--secret",
                f"secret/{bao.path('db')}",
                "--json",
            ]
        )

        report = json.loads(result.out)
        names = [step["name"] for step in report["steps"]]
        assert names[:4] == ["Server", "Login", "Token", "Mounts"]
        assert report["steps"][-1]["data"]["keys"] == ["user"]
        assert report["steps"][-1]["data"]["version"] == "1"

    def test_login_at_root_secrets_in_namespace(self, bao: Bao) -> None:
        bao.put("db", {"user": "app"}, namespace="team")
        role_id, secret_id = bao.approle()
        bao.add(
            auth="approle",
            stdin=secret_id + "\n",
            extra=[
                "--role-id",
                role_id,
                "--secret-id-stdin",
                "--namespace",
                "team",
                "--auth-namespace",
                "root",
            ],
        )

        result = run_cli(
            ["integration", "test", "hashicorp", "--secret", f"secret/{bao.path('db')}"]
        )

        assert result.status == 0, result.out
        assert "Logged in with approle at auth/approle in namespace root" in result.out
        assert "in namespace team: secret/ (KV v2)" in result.out
        assert f"Read team/secret/{bao.path('db')}, version 1; keys: user" in result.out

    def test_login_in_namespace_passes(self, bao: Bao) -> None:
        bao.put("db", {"user": "app"}, namespace="team")
        role_id, secret_id = bao.approle(policies="team-reader", namespace="team")
        bao.add(
            auth="approle",
            stdin=secret_id + "\n",
            extra=["--role-id", role_id, "--secret-id-stdin", "--namespace", "team"],
        )

        result = run_cli(
            ["integration", "test", "hashicorp", "--secret", f"secret/{bao.path('db')}"]
        )

        assert result.status == 0, result.out
        assert "in namespace team." in result.out
        assert "policies default, team-reader" in result.out

    def test_sealed_server_has_fix(
        self, bao: Bao, sealed_openbao: OpenBaoServer
    ) -> None:
        bao.add_token(sealed_openbao.root_token, address=sealed_openbao.address)

        result = run_cli(["integration", "test", "hashicorp", "--json"])

        report = json.loads(result.out)
        assert result.status == 1
        assert report["steps"][0]["code"] == "vault_sealed"
        assert "unseal" in report["steps"][0]["fix"]
        assert {step["status"] for step in report["steps"][1:]} == {"skipped"}

    def test_bad_login_has_fix(self, bao: Bao, canaries: Canaries) -> None:
        role_id, _ = bao.approle()
        bao.add(
            auth="approle",
            stdin=canaries.make("bad-secret-id") + "\n",
            extra=["--role-id", role_id, "--secret-id-stdin"],
        )

        result = run_cli(["integration", "test", "hashicorp", "--json"])

        login = json.loads(result.out)["steps"][1]
        assert login["status"] == "failed"
        assert login["code"] == "login_failed"
        assert "--secret-id-stdin" in login["fix"]

    def test_namespace_mismatch_warns(self, bao: Bao) -> None:
        bao.root().sys.create_or_update_policy(
            "team-only", 'path "team/secret/data/*" { capabilities = ["read"] }'
        )
        bao.add_token(bao.token(policies=["team-only"]))

        result = run_cli(["integration", "test", "hashicorp", "--json"])

        mounts = json.loads(result.out)["steps"][3]
        assert mounts["status"] == "warning"
        assert "namespace" in mounts["fix"]

    def test_missing_policy_has_fix(self, bao: Bao) -> None:
        bao.root().sys.create_or_update_policy(
            "other-only", 'path "secret/data/other" { capabilities = ["read"] }'
        )
        bao.put("db", {"k": "v"})
        bao.add_token(bao.token(policies=["other-only"]))

        result = run_cli(
            [
                "integration",
                "test",
                "hashicorp",
                "--secret",
                f"secret/{bao.path('db')}",
                "--json",
            ]
        )

        step = json.loads(result.out)["steps"][-1]
        assert step["code"] == "access_denied"
        assert f'path "secret/data/{bao.path("db")}"' in step["fix"]

    def test_token_without_default_policy_warns(self, bao: Bao) -> None:
        bao.put("db", {"k": "v"})
        bao.add_token(bao.token(no_default_policy=True))

        result = run_cli(
            [
                "integration",
                "test",
                "hashicorp",
                "--secret",
                f"secret/{bao.path('db')}",
                "--json",
            ]
        )

        steps = {step["name"]: step for step in json.loads(result.out)["steps"]}
        assert result.status == 0, result.out
        assert steps["Token"]["status"] == "warning"
        assert "default policy" in steps["Token"]["fix"]
        assert steps["Mounts"]["status"] == "ok"
        assert steps[f"Secret secret/{bao.path('db')}"]["status"] == "ok"

    def test_expired_token_skips_later_steps(self, bao: Bao) -> None:
        bao.add_token(bao.token(ttl="1s", renewable=False))
        time.sleep(1.5)

        result = run_cli(
            [
                "integration",
                "test",
                "hashicorp",
                "--secret",
                f"secret/{bao.path('db')}",
                "--json",
            ]
        )

        steps = json.loads(result.out)["steps"]
        assert result.status == 1
        assert steps[2]["name"] == "Token"
        assert steps[2]["code"] == "token_expired"
        assert "--token-stdin" in steps[2]["fix"]
        assert [step["status"] for step in steps[3:]] == ["skipped", "skipped"]

    def test_unknown_namespace_fails_login(self, bao: Bao) -> None:
        bao.add_token(extra=["--namespace", "nosuch"])

        result = run_cli(["integration", "test", "hashicorp", "--json"])

        login = json.loads(result.out)["steps"][1]
        assert result.status == 1
        assert login["status"] == "failed"
        assert login["detail"].startswith("The namespace 'nosuch' was not found")
        assert "the request" not in login["detail"]
        assert "prizm integration show hashicorp" in login["fix"]

    def test_wrong_address_has_fix(self, bao: Bao) -> None:
        from devtools.servers import free_port

        bao.add_token(address=f"http://127.0.0.1:{free_port()}")

        result = run_cli(["integration", "test", "hashicorp", "--json"])

        server = json.loads(result.out)["steps"][0]
        assert server["code"] == "endpoint_unreachable"
        assert "address" in server["fix"]


@pytest.mark.slow
class TestSubprocess:
    def test_add_and_get_in_processes(self, bao: Bao, canaries: Canaries) -> None:
        password = canaries.make("subprocess")
        bao.put("db", {"password": password})
        username, user_password = bao.userpass()

        added = run_cli_process(
            [
                "integration",
                "add",
                "hashicorp",
                "--address",
                bao.address,
                "--allow-http",
                "--auth",
                "userpass",
                "--username",
                username,
                "--password-stdin",
            ],
            stdin=user_password + "\n",
        )
        got = run_cli_process(
            ["secret", "get", f"vault://hashicorp/secret/{bao.path('db')}#password"],
            reveals=True,
        )

        assert added.status == 0, added.err
        assert got.status == 0, got.err
        assert got.out == password + "\n"

    def test_error_in_process_names_reference(self, bao: Bao) -> None:
        bao.add_token()
        reference = f"vault://hashicorp/secret/{bao.path('missing')}#k"

        result = run_cli_process(["secret", "get", reference])

        assert result.status == 1
        assert result.err.startswith("error[secret_not_found]")
        assert reference in result.err
