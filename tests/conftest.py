"""Shared fixtures: the loopback guard, servers, a fresh Prizm home, and the leak scan.

The network guard is installed before anything else is imported, so no SDK can reach
a metadata address, a login host or any address outside loopback. Child Python
processes get the same guard through ``devtools/guard/sitecustomize.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent

# Read before the PRIZM_ variables are cleared below: the browser tests write the
# docs' screenshots when it is 1 (make screenshots).
SCREENSHOTS = os.environ.get("PRIZM_SCREENSHOTS") == "1"

# Environment for this process and every child: no AWS profile or metadata lookups,
# and the loopback guard in child Python processes.
for _name in list(os.environ):
    if _name.startswith(("AWS_", "AZURE_", "VAULT_", "BAO_", "PRIZM_")):
        del os.environ[_name]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = str(REPOSITORY / "tests" / "data" / "no-aws-config")
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(
    REPOSITORY / "tests" / "data" / "no-aws-config"
)
os.environ["NO_PROXY"] = "127.0.0.1,localhost,::1"
os.environ["no_proxy"] = "127.0.0.1,localhost,::1"
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
    os.environ.pop(_name, None)
os.environ["PRIZM_NETGUARD"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(REPOSITORY / "devtools" / "guard"), os.environ.get("PYTHONPATH", "")]
).rstrip(os.pathsep)

from devtools.netguard import install  # noqa: E402

install()

import pytest  # noqa: E402

from prizm.logging import protect_sdk_loggers  # noqa: E402

# The tests' own boto3 clients write secrets too (create_secret), before any Prizm
# provider has loaded and protected botocore's loggers.
protect_sdk_loggers()

from tests.support.fixtures import *  # noqa: E402,F403
from tests.support.openbao import *  # noqa: E402,F403
from tests.support.postgres import *  # noqa: E402,F403


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "reveals_values: the test prints resolved values on purpose"
    )
