"""The JSON document of a database secret, in the shape AWS uses for RDS and Redshift.

    {"engine": "postgres", "host": "db.example.internal", "port": 5432,
     "username": "app", "password": "...", "dbname": "app",
     "masterarn": "arn:aws:secretsmanager:...:secret:db-master-AbCdEf"}

``engine``, ``host``, ``username`` and ``password`` are required. ``port`` and
``dbname`` default per engine, ``masterarn`` names the secret of the user that may
create and change other users (alternating-users), and ``ssl`` (true or false, as in
AWS's rotation templates) chooses TLS. Other keys, such as the ``dbInstanceIdentifier``
that RDS writes, are kept unchanged in every new version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prizm.errors import InvalidDatabaseSecret, InvalidRotationRequest
from prizm.secrets import SecretValue

__all__ = [
    "CLONE_SUFFIX",
    "DEFAULT_DATABASES",
    "DEFAULT_PORTS",
    "REDSHIFT",
    "DatabaseSecret",
    "alternate_username",
]

REDSHIFT = "redshift"
DEFAULT_PORTS = {"postgres": 5432, "aurora-postgresql": 5432, REDSHIFT: 5439}
"""Engines this rotation supports, with the port used when the secret names none."""

DEFAULT_DATABASES = {"postgres": "postgres", "aurora-postgresql": "postgres"}
DEFAULT_DATABASES[REDSHIFT] = "dev"

CLONE_SUFFIX = "_clone"
MAX_USERNAME_LENGTH = 63
"""PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes)."""


def alternate_username(username: str) -> str:
    """Return the other user of the alternating pair: ``app`` <-> ``app_clone``."""
    if username.endswith(CLONE_SUFFIX) and len(username) > len(CLONE_SUFFIX):
        return username.removesuffix(CLONE_SUFFIX)
    clone = username + CLONE_SUFFIX
    if len(clone.encode("utf-8")) > MAX_USERNAME_LENGTH:
        raise InvalidRotationRequest(
            f"The user name '{username}' is too long to add '{CLONE_SUFFIX}': the "
            f"clone's name would pass {MAX_USERNAME_LENGTH} bytes.",
            hint="Use the single-user strategy, or a user name of at most "
            f"{MAX_USERNAME_LENGTH - len(CLONE_SUFFIX)} bytes.",
        )
    return clone


@dataclass(frozen=True)
class DatabaseSecret:
    """One version of a database secret: where to connect and as whom.

    ``fields`` contains every key of the document except ``password``, as stored, so
    that a new version keeps keys Prizm does not use.
    """

    engine: str
    host: str
    port: int
    username: str
    password: SecretValue = field(repr=False)
    dbname: str
    master_arn: str | None
    ssl: bool | None
    fields: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(
        cls,
        text: SecretValue,
        *,
        secret: str,
        version: str,
        default_engine: str | None = None,
    ) -> DatabaseSecret:
        """Parse and validate one version's document.

        ``default_engine`` applies when the document has no ``engine``, which is the
        case for master secrets that hold only a user name and password. Errors name
        the secret, the version and the key, never a value.
        """
        where = f"secret '{secret}' ({version})"
        try:
            document = json.loads(text.reveal())
        except ValueError:
            # The decode error carries the whole document, password included, so
            # it is not chained.
            raise _invalid(f"The {where} is not a JSON object.") from None
        if not isinstance(document, dict):
            raise _invalid(f"The {where} is not a JSON object.")

        engine = document.get("engine", default_engine)
        if engine not in DEFAULT_PORTS:
            described = "missing" if engine is None else f"'{engine}'"
            raise _invalid(
                f"The engine of {where} is {described}; rotation supports "
                f"{', '.join(sorted(DEFAULT_PORTS))}.",
            )
        for key in ("host", "username", "password"):
            value = document.get(key)
            if not isinstance(value, str) or value == "":
                raise _invalid(f"The {where} has no text value at key '{key}'.")

        dbname = document.get("dbname")
        if dbname is not None and (not isinstance(dbname, str) or dbname == ""):
            raise _invalid(f"The key 'dbname' of {where} is not a database name.")
        master_arn = document.get("masterarn")
        if master_arn is not None and not isinstance(master_arn, str):
            raise _invalid(f"The key 'masterarn' of {where} is not a secret ARN.")

        fields = {key: value for key, value in document.items() if key != "password"}
        return cls(
            engine=engine,
            host=document["host"],
            port=_port(document.get("port"), engine, where),
            username=document["username"],
            password=SecretValue(document["password"]),
            dbname=dbname or DEFAULT_DATABASES[engine],
            master_arn=master_arn or None,
            ssl=_ssl(document.get("ssl"), where),
            fields=fields,
        )

    @property
    def is_redshift(self) -> bool:
        return self.engine == REDSHIFT

    def address(self) -> str:
        """Describe the login for messages: engine, user, host, port and database."""
        return (
            f"{self.engine} user '{self.username}' at {self.host}:{self.port} "
            f"(database '{self.dbname}')"
        )

    def same_server(self, other: DatabaseSecret) -> bool:
        """Return whether both logins are for the same host and port.

        ``postgres`` and ``aurora-postgresql`` count as one engine, because RDS
        writes either into secrets for Aurora PostgreSQL.
        """
        return (self.is_redshift, self.host.lower(), self.port) == (
            other.is_redshift,
            other.host.lower(),
            other.port,
        )

    def in_database(self, dbname: str) -> DatabaseSecret:
        """Return this login for another database of the same server."""
        return DatabaseSecret(
            engine=self.engine,
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            dbname=dbname,
            master_arn=self.master_arn,
            ssl=self.ssl,
            fields={**self.fields, "dbname": dbname},
        )

    def with_login(self, username: str, password: SecretValue) -> SecretValue:
        """Return the document of a new version for ``username`` and ``password``."""
        document = {**self.fields, "username": username}
        document["password"] = password.reveal()
        # Not registered whole: ``password`` is registered already, which masks it
        # inside the document as well.
        return SecretValue(json.dumps(document), register=False)


def _invalid(message: str) -> InvalidDatabaseSecret:
    return InvalidDatabaseSecret(
        message,
        hint="Store the credentials as JSON with the keys engine, host, port, "
        "username, password and dbname, as AWS does for RDS and Redshift secrets.",
    )


def _port(value: object, engine: str, where: str) -> int:
    if value is None or value == "":
        return DEFAULT_PORTS[engine]
    # AWS's own secrets store the port as a number, secrets written by hand often
    # as text: accept both.
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise _invalid(f"The key 'port' of {where} is not a TCP port number.")
    return value


def _ssl(value: object, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid(f"The key 'ssl' of {where} is not true or false.")
