"""Validation of Vault integration settings, with no server."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from prizm.providers.hashicorp import HASHICORP
from prizm.providers.hashicorp.settings import DEFAULT_JWT_FILE, HashicorpSettings

TOKEN = {"address": "https://vault.example.com:8200", "token": "t0ken-value"}


def settings(**values: Any) -> HashicorpSettings:
    return HashicorpSettings.model_validate({**TOKEN, **values})


def problem(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**values)
    return str(caught.value)


class TestAddress:
    def test_https_address_normalised(self) -> None:
        assert settings(address="https://vault:8200/").address == "https://vault:8200"

    def test_http_rejected_by_default(self) -> None:
        assert "http" in problem(address="http://127.0.0.1:8200")

    def test_http_allowed_with_flag(self) -> None:
        allowed = settings(address="http://127.0.0.1:8200", allow_http=True)

        assert allowed.address == "http://127.0.0.1:8200"

    @pytest.mark.parametrize(
        "address",
        ["vault:8200", "ftp://vault", "https://", "https://u:p@vault", "https://v/x"],
        ids=["no-scheme", "ftp", "no-host", "user-info", "path"],
    )
    def test_invalid_address(self, address: str) -> None:
        assert "address" in problem(address=address)


class TestAuth:
    def test_approle_needs_both_ids(self) -> None:
        text = problem(auth="approle", token=None)

        assert "role ID and a secret ID" in text

    def test_token_rejects_other_fields(self) -> None:
        assert "takes no username" in problem(username="u")

    def test_kubernetes_default_jwt_file(self) -> None:
        kube = settings(auth="kubernetes", token=None, kubernetes_role="app")

        assert kube.jwt_path == DEFAULT_JWT_FILE
        assert kube.mount == "kubernetes"

    def test_auth_namespace_root(self) -> None:
        approle = settings(
            auth="approle",
            token=None,
            role_id="r",
            secret_id="s",
            namespace="team",
            auth_namespace="root",
        )

        assert approle.login_namespace is None
        assert approle.namespace == "team"

    def test_login_namespace_defaults_to_namespace(self) -> None:
        userpass = settings(
            auth="userpass", token=None, username="u", password="p", namespace="a/b"
        )

        assert userpass.login_namespace == "a/b"

    @pytest.mark.parametrize(
        "namespace", ["a b", "../x", "a//b"], ids=["space", "dot-dot", "empty"]
    )
    def test_invalid_namespace(self, namespace: str) -> None:
        assert "namespace" in problem(namespace=namespace)


class TestTls:
    def test_client_cert_needs_key(self) -> None:
        assert "certificate and key" in problem(client_cert="/tmp/c.pem")

    def test_skip_verify_excludes_ca(self) -> None:
        assert "not both" in problem(ca_cert="/tmp/ca.pem", tls_skip_verify=True)


class TestProviderType:
    def test_credentials_are_sealed_fields(self) -> None:
        assert set(HASHICORP.credential_fields) == {"token", "secret_id", "password"}

    def test_summary(self) -> None:
        summary = HASHICORP.summary(
            {
                "address": "https://v:8200",
                "namespace": "team",
                "auth": "approle",
                "auth_namespace": "root",
            }
        )

        assert summary["location"] == "address https://v:8200, namespace team"
        assert summary["auth"] == "approle at auth/approle in namespace root"
