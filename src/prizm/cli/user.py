"""``prizm user`` and ``prizm token``: users of the web console and API tokens."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table

from prizm.cli.context import user_service
from prizm.cli.integration import JsonOption
from prizm.cli.output import emit, stdout
from prizm.errors import UsageError
from prizm.users import ROLES

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(
    help="Manage users of the web console and the API.", no_args_is_help=True
)
token_app = typer.Typer(
    help="Manage API tokens, sent as 'Authorization: Bearer <token>'.",
    no_args_is_help=True,
)


def _read_password() -> str:
    """Read a password from standard input, or twice from a hidden prompt."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if line == "":
            raise UsageError(
                "No password was read from standard input.",
                hint="Send the password on the first line of standard input.",
            )
        return line
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != password:
        raise UsageError(
            "The two passwords differ.", hint="Run the command again and retype it."
        )
    return password


@user_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str, typer.Option("--role", help=f"Role: {', '.join(ROLES)}.")
    ] = "viewer",
    json_output: JsonOption = False,
) -> None:
    """Add a user. The password comes from standard input or a hidden prompt."""
    record = user_service().add(name, role, _read_password())
    emit(
        record.to_dict(),
        lambda: stdout.print(
            f"Added user '{record.name}' with role {record.role}.", markup=False
        ),
        as_json=json_output,
    )


@user_app.command("list")
def list_users(json_output: JsonOption = False) -> None:
    """List the users and their roles."""
    records = user_service().all()

    def render() -> None:
        if not records:
            stdout.print("No users. Add one with: prizm user add NAME --role admin")
            return
        table = Table(box=None, pad_edge=False)
        for column in ("NAME", "ROLE", "LAST SIGN-IN"):
            table.add_column(column)
        for record in records:
            last = record.last_login_at
            table.add_row(
                record.name,
                record.role,
                "never" if last is None else f"{last:%Y-%m-%d %H:%M}",
            )
        stdout.print(table)

    emit([record.to_dict() for record in records], render, as_json=json_output)


@user_app.command("update")
def update_user(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[
        str | None, typer.Option("--role", help=f"New role: {', '.join(ROLES)}.")
    ] = None,
    password: Annotated[
        bool,
        typer.Option(
            "--password",
            "--password-stdin",
            help="Set a new password, read from standard input or a hidden prompt. "
            "It signs the user out of every session.",
        ),
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Change a user's role, password or both."""
    if role is None and not password:
        raise UsageError(
            "Give --role ROLE, --password, or both.",
            hint=f"For example: prizm user update {name} --role editor",
        )
    new_password = _read_password() if password else None
    record = user_service().update(name, role=role, password=new_password)
    changes = [f"role {record.role}"] if role is not None else []
    if password:
        changes.append("a new password")
    emit(
        record.to_dict(),
        lambda: stdout.print(
            f"Updated user '{record.name}': {' and '.join(changes)}.", markup=False
        ),
        as_json=json_output,
    )


@user_app.command("remove")
def remove_user(
    name: Annotated[str, typer.Argument(help="User name.")],
    json_output: JsonOption = False,
) -> None:
    """Remove a user with their API tokens and sessions."""
    user_service().remove(name)
    emit(
        {"removed": name},
        lambda: stdout.print(f"Removed user '{name}'.", markup=False),
        as_json=json_output,
    )


@token_app.command("create")
def create_token(
    name: Annotated[str, typer.Argument(help="Token name, such as ci-deploy.")],
    user: Annotated[
        str | None,
        typer.Option("--user", help="Owner; needed unless there is only one user."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Create an API token and print it once. It acts with its user's role."""
    service = user_service()
    owner = user or service.default_token_user()
    record, token = service.create_token(name, owner)
    data = {**record.to_dict(), "token": token}

    def render() -> None:
        stdout.print(token, markup=False)
        sys.stderr.write(
            f"Created API token '{record.name}' for user '{record.user}'. It is shown "
            "only now: store it in a secret manager.\n"
        )

    emit(data, render, as_json=json_output)


@token_app.command("list")
def list_tokens(
    user: Annotated[
        str | None, typer.Option("--user", help="Only tokens of this user.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List API tokens by name, owner and first characters."""
    records = user_service().tokens(user)

    def render() -> None:
        if not records:
            stdout.print("No API tokens. Create one with: prizm token create NAME")
            return
        table = Table(box=None, pad_edge=False)
        for column in ("NAME", "USER", "STARTS WITH", "CREATED", "LAST USED"):
            table.add_column(column)
        for record in records:
            used = record.last_used_at
            table.add_row(
                record.name,
                record.user,
                record.prefix + "...",
                f"{record.created_at:%Y-%m-%d %H:%M}",
                "never" if used is None else f"{used:%Y-%m-%d %H:%M}",
            )
        stdout.print(table)

    emit([record.to_dict() for record in records], render, as_json=json_output)


@token_app.command("revoke")
def revoke_token(
    name: Annotated[str, typer.Argument(help="Token name.")],
    json_output: JsonOption = False,
) -> None:
    """Revoke an API token; requests that send it are rejected from now on."""
    user_service().revoke_token(name)
    emit(
        {"revoked": name},
        lambda: stdout.print(f"Revoked API token '{name}'.", markup=False),
        as_json=json_output,
    )
