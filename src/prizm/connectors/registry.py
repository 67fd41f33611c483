"""The connector types Prizm ships, by type name, loaded on first use.

Each connector module imports its driver (psycopg, httpx, the Snowflake connector),
so a module is imported only when its type is used, which keeps commands such as
``prizm resolve`` quick to start.
"""

from __future__ import annotations

from importlib import import_module

from prizm.connectors.base import ConnectorType
from prizm.errors import InvalidField

__all__ = ["CONNECTOR_TYPE_NAMES", "all_connector_types", "connector_type"]

_LOCATIONS = {
    "postgres": ("prizm.connectors.postgres", "POSTGRES"),
    "redshift": ("prizm.connectors.postgres", "REDSHIFT"),
    "snowflake": ("prizm.connectors.snowflake", "SNOWFLAKE"),
    "jira": ("prizm.connectors.jira", "JIRA"),
}

CONNECTOR_TYPE_NAMES = tuple(sorted(_LOCATIONS))


def connector_type(type_name: str) -> ConnectorType:
    """Return the connector type called ``type_name`` or raise ``InvalidField``."""
    location = _LOCATIONS.get(type_name)
    if location is None:
        raise InvalidField(
            f"Unknown connector type '{type_name}'.",
            hint=f"Use one of: {', '.join(CONNECTOR_TYPE_NAMES)} "
            "(see prizm connector types).",
        )
    module, attribute = location
    found: ConnectorType = getattr(import_module(module), attribute)
    return found


def all_connector_types() -> list[ConnectorType]:
    """Return every connector type, ordered by type name."""
    return [connector_type(name) for name in CONNECTOR_TYPE_NAMES]
