"""Vault providers, one module each, behind the ``Provider`` protocol."""

from prizm.providers.base import (
    FetchCall,
    FetchOutcome,
    Provider,
    ProviderType,
    SecretRequest,
    TestReport,
    TestStep,
)

__all__ = [
    "FetchCall",
    "FetchOutcome",
    "Provider",
    "ProviderType",
    "SecretRequest",
    "TestReport",
    "TestStep",
]
