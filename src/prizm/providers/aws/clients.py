"""boto3 sessions and clients of one AWS integration.

One ``AwsClients`` exists per integration and process. Its clients are created once
and shared by every thread (boto3 clients are thread-safe; sessions are not, so client
creation is serialised by a lock).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import DeferredRefreshableCredentials

from prizm import redaction
from prizm.logging import protect_sdk_loggers
from prizm.providers.aws.settings import AwsSettings

__all__ = ["AwsClients"]

USER_AGENT = "prizm/0.1"

protect_sdk_loggers()
ASSUME_ROLE_SECONDS = 3600


class AwsClients:
    """Lazily built boto3 clients for Secrets Manager, STS and KMS."""

    def __init__(self, integration: str, settings: AwsSettings) -> None:
        self.integration = integration
        self.settings = settings
        self._lock = threading.Lock()
        self._base: boto3.Session | None = None
        self._session: boto3.Session | None = None
        self._clients: dict[tuple[str, str], Any] = {}

    def config(self) -> Config:
        """Return the botocore config: timeouts, standard retries, pool size."""
        return Config(
            connect_timeout=self.settings.connect_timeout,
            read_timeout=self.settings.read_timeout,
            retries={
                "mode": "standard",
                "total_max_attempts": self.settings.max_attempts,
            },
            max_pool_connections=32,
            user_agent_extra=USER_AGENT,
        )

    def endpoint(self, service: str) -> str | None:
        """Return the endpoint URL for ``service``; the general one applies to all."""
        return self.settings.endpoint(service)

    def _base_session(self) -> boto3.Session:
        if self._base is None:
            if self.settings.auth == "access-keys":
                secret_key = self.settings.secret_access_key
                token = self.settings.session_token
                self._base = boto3.Session(
                    aws_access_key_id=self.settings.access_key_id,
                    aws_secret_access_key=secret_key.get_secret_value()
                    if secret_key
                    else None,
                    aws_session_token=token.get_secret_value() if token else None,
                    region_name=self.settings.region,
                )
            else:
                # The default chain: environment, web identity, container and
                # instance credentials, in botocore's order.
                self._base = boto3.Session(region_name=self.settings.region)
        return self._base

    def base_client(self, service: str) -> Any:
        """Return a client on the integration's own identity, before any role."""
        with self._lock:
            return self._base_session().client(
                service,  # type: ignore[call-overload]
                region_name=self.settings.region,
                endpoint_url=self.endpoint(service),
                config=self.config(),
            )

    def _assume_role(self) -> dict[str, Any]:
        sts = self.base_client("sts")
        parameters: dict[str, Any] = {
            "RoleArn": self.settings.role_arn,
            "RoleSessionName": f"prizm-{self.integration}"[:64],
            "DurationSeconds": ASSUME_ROLE_SECONDS,
        }
        if self.settings.external_id:
            parameters["ExternalId"] = self.settings.external_id
        response = sts.assume_role(**parameters)
        credentials = response["Credentials"]
        redaction.register(credentials["SecretAccessKey"])
        redaction.register(credentials["SessionToken"])
        expiration = credentials["Expiration"]
        if isinstance(expiration, datetime):
            expiration = expiration.astimezone(UTC).isoformat()
        return {
            "access_key": credentials["AccessKeyId"],
            "secret_key": credentials["SecretAccessKey"],
            "token": credentials["SessionToken"],
            "expiry_time": expiration,
        }

    def session(self) -> boto3.Session:
        """Return the session that reads secrets: the assumed role's, if any."""
        if self._session is not None:
            return self._session
        if not self.settings.role_arn:
            self._session = self._base_session()
            return self._session
        core = botocore.session.Session()
        # botocore has no public setter for refreshable credentials; assigning
        # _credentials is the documented-by-use way to plug in AssumeRole refresh.
        core._credentials = DeferredRefreshableCredentials(  # type: ignore[attr-defined]
            refresh_using=self._assume_role, method="assume-role"
        )
        self._session = boto3.Session(
            botocore_session=core, region_name=self.settings.region
        )
        return self._session

    def client(self, service: str, region: str | None = None) -> Any:
        """Return the shared client for ``service`` in ``region`` (default: own)."""
        region = region or self.settings.region
        key = (service, region)
        client = self._clients.get(key)
        if client is not None:
            return client
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self.session().client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.endpoint(service),
                    config=self.config(),
                )
                self._clients[key] = client
        return client

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
