"""The connector types Prizm ships, by type name."""

from __future__ import annotations

from prizm.connectors.base import ConnectorType
from prizm.connectors.jira import JIRA
from prizm.connectors.postgres import POSTGRES, REDSHIFT
from prizm.connectors.snowflake import SNOWFLAKE
from prizm.errors import InvalidField

__all__ = ["CONNECTOR_TYPES", "connector_type"]

CONNECTOR_TYPES: dict[str, ConnectorType] = {
    kind.type_name: kind for kind in (POSTGRES, REDSHIFT, SNOWFLAKE, JIRA)
}


def connector_type(type_name: str) -> ConnectorType:
    """Return the connector type called ``type_name`` or raise ``InvalidField``."""
    found = CONNECTOR_TYPES.get(type_name)
    if found is None:
        raise InvalidField(
            f"Unknown connector type '{type_name}'.",
            hint=f"Use one of: {', '.join(sorted(CONNECTOR_TYPES))} "
            "(see prizm connector types).",
        )
    return found
