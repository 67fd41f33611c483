"""``make demo``: a connector job whose credentials come from Secrets Manager.

Starts moto's Secrets Manager and a real PostgreSQL with password authentication on
loopback, stores a database login in Secrets Manager as AWS does for database
secrets, and drives the ``prizm`` command line as a user would: add the integration,
test it, add a PostgreSQL connector whose username and password are references, and
run it. Then it rotates the password (in PostgreSQL and in Secrets Manager) and runs
again with no change in Prizm. Every server it starts is stopped before it exits.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import psycopg
from psycopg import sql

from devtools.servers import MotoServer, PostgresServer

REPOSITORY = Path(__file__).resolve().parent.parent
REGION = "eu-west-1"
SECRET = "prizm/analytics-db"
ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
MOTO_SECRET_KEY = "moto-accepts-any-secret-key"

SCHEMA = """
create schema sales;
create table public.customers (id bigint primary key, name text not null, email text);
create table sales.orders (
    id bigint primary key,
    customer_id bigint references public.customers (id),
    amount numeric(12, 2) not null,
    placed_at timestamptz not null default now()
);
create view sales.large_orders as select * from sales.orders where amount > 500;
insert into public.customers
    select i, 'Customer ' || i, 'customer' || i || '@example.com'
    from generate_series(1, 250) i;
insert into sales.orders
    select i, 1 + i % 250, (i * 7.25) % 1000, now() from generate_series(1, 1200) i;
analyze;
"""


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def new_password() -> str:
    # URL-special characters on purpose: they must reach the driver unchanged.
    return secrets.token_urlsafe(18) + "@:/#%?&=+"


class Demo:
    def __init__(self, home: Path, moto: MotoServer, postgres: PostgresServer) -> None:
        self.home = home
        self.moto = moto
        self.postgres = postgres
        self.env = {
            **os.environ,
            "PRIZM_HOME": str(home),
            "AWS_EC2_METADATA_DISABLED": "true",
            "PRIZM_NETGUARD": "1",
            "PYTHONPATH": str(REPOSITORY / "devtools" / "guard"),
            "COLUMNS": "110",
        }
        for name in list(self.env):
            if name.startswith("AWS_") and name != "AWS_EC2_METADATA_DISABLED":
                del self.env[name]
        self.secrets = boto3.client(
            "secretsmanager",
            endpoint_url=moto.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=MOTO_SECRET_KEY,
        )

    def prizm(self, *args: str, stdin: str | None = None, check: bool = True) -> int:
        """Run and show one prizm command, as a user would type it."""
        shown = "prizm " + " ".join(shlex.quote(arg) for arg in args)
        if stdin is not None:
            shown = "printf '%s\\n' \"$AWS_SECRET_ACCESS_KEY\" | " + shown
        print(f"$ {shown}", flush=True)
        completed = subprocess.run(
            [sys.executable, "-m", "prizm.cli.main", *args],
            input=stdin,
            text=True,
            env=self.env,
            check=False,
        )
        if check and completed.returncode != 0:
            raise SystemExit(
                f"demo: prizm {args[0]} failed with status {completed.returncode}"
            )
        return completed.returncode

    def credentials(self, user: str, password: str) -> dict[str, Any]:
        return {
            "engine": "postgres",
            "host": "127.0.0.1",
            "port": self.postgres.port,
            "username": user,
            "password": password,
            "dbname": "analytics",
        }

    def run(self) -> None:
        user = "prizm_reader"
        password = new_password()

        heading("A PostgreSQL database with a login role (password authentication)")
        with psycopg.connect(self.postgres.dsn(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("create role {} login password {}").format(
                    sql.Identifier(user), sql.Literal(password)
                )
            )
            connection.execute(
                sql.SQL("create database analytics owner {}").format(
                    sql.Identifier(user)
                )
            )
        with psycopg.connect(
            self.postgres.dsn("analytics", user, password), autocommit=True
        ) as db:
            db.execute(SCHEMA)
        print(
            f"PostgreSQL on 127.0.0.1:{self.postgres.port}, "
            f"database analytics, role {user}"
        )

        heading(
            "The platform team stores the login in AWS Secrets Manager (moto, local)"
        )
        created = self.secrets.create_secret(
            Name=SECRET, SecretString=json.dumps(self.credentials(user, password))
        )
        print(f"Created {created['ARN']}")
        print(
            f"  version {created['VersionId']}, "
            "keys: engine host port username password dbname"
        )

        heading("Connect the vault: Settings > Integrations > AWS Secrets Manager")
        self.prizm(
            "integration", "add", "aws",
            "--region", REGION,
            "--auth", "access-keys",
            "--access-key-id", ACCESS_KEY_ID,
            "--secret-access-key-stdin",
            "--endpoint-url", self.moto.url,
            "--allow-http",
            "--allowed-secrets", "prizm/*",
            stdin=MOTO_SECRET_KEY + "\n",
        )  # fmt: skip
        self.prizm("integration", "test", "aws", "--secret", f"{SECRET}#password")

        heading("A PostgreSQL connector whose credentials are references")
        self.prizm(
            "connector", "add", "postgres", "analytics",
            "--field", "host=127.0.0.1",
            "--field", f"port={self.postgres.port}",
            "--field", "database=analytics",
            "--field", f"username=vault://aws/{SECRET}#username",
            "--field", f"password=vault://aws/{SECRET}#password",
            "--field", "sslmode=disable",
        )  # fmt: skip
        self.prizm("connector", "show", "analytics")

        heading("Run 1: Prizm fetches the current password and scans the catalog")
        self.prizm("run", "analytics", "--stats")

        heading("Rotation: a new password in PostgreSQL and in Secrets Manager")
        rotated = new_password()
        with psycopg.connect(self.postgres.dsn(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("alter role {} with password {}").format(
                    sql.Identifier(user), sql.Literal(rotated)
                )
            )
        put = self.secrets.put_secret_value(
            SecretId=SECRET, SecretString=json.dumps(self.credentials(user, rotated))
        )
        print(f"New AWSCURRENT version {put['VersionId']}; nothing changes in Prizm.")

        heading("Run 2: the same connector picks up the rotated password")
        self.prizm("run", "analytics")

        heading("Run history, and an error that says what to fix")
        self.prizm("runs", "analytics")
        self.prizm("secret", "get", f"vault://aws/{SECRET}#pasword", check=False)


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="prizm-demo-"))
    moto = MotoServer()
    postgres = PostgresServer()
    try:
        print(
            "Starting moto's Secrets Manager and PostgreSQL on 127.0.0.1 ...",
            flush=True,
        )
        moto.start()
        postgres.start()
        Demo(home, moto, postgres).run()
        heading("Done: two successful runs, the second after rotation")
        return 0
    finally:
        postgres.stop()
        moto.stop()
        shutil.rmtree(home, ignore_errors=True)
        print("Stopped PostgreSQL and moto; removed the demo's files.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
