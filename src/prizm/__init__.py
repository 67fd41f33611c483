"""Prizm's secrets layer: ``vault://`` references resolved at run time.

The public surface is small: parse references, resolve them through configured
integrations, and the typed errors. Everything else is internal.
"""

from prizm.errors import PrizmError
from prizm.logging import install_record_factory, protect_sdk_loggers
from prizm.references import Reference, parse_reference
from prizm.secrets import ResolvedValue, SecretSource, SecretValue

__all__ = [
    "PrizmError",
    "Reference",
    "ResolvedValue",
    "SecretSource",
    "SecretValue",
    "parse_reference",
]

__version__ = "0.1.0"

# Any process that uses Prizm (the CLI, the web console, a worker, a host program)
# masks resolved values in every log record, and cuts SDK payload records.
install_record_factory()
protect_sdk_loggers()
