"""Forms of the web console, generated from settings models and field specs."""

from prizm.web.forms.connector_forms import ConnectorField, connector_form
from prizm.web.forms.integration_forms import (
    FormField,
    changes_from_form,
    integration_form,
    settings_from_form,
)

__all__ = [
    "ConnectorField",
    "FormField",
    "changes_from_form",
    "connector_form",
    "integration_form",
    "settings_from_form",
]
