"""``prizm rotate``: rotate a database password stored in AWS Secrets Manager."""

from __future__ import annotations

from typing import Annotated

import typer

from prizm.cli.context import integration_service
from prizm.cli.output import emit, json_mode, stderr, stdout
from prizm.errors import PrizmError, UsageError
from prizm.rotation.local import RotationReport, rotate_reference
from prizm.rotation.passwords import DEFAULT_EXCLUDED, DEFAULT_LENGTH, PasswordPolicy
from prizm.rotation.steps import StepResult, Strategy

__all__ = ["rotate"]

STRATEGIES = ", ".join(strategy.value for strategy in Strategy)


def rotate(
    reference: Annotated[
        str,
        typer.Argument(help="Secret to rotate, such as vault://aws/prizm/db."),
    ],
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="single-user changes the user's own password; alternating-users "
            "switches between <user> and <user>_clone, set by the master user.",
        ),
    ] = None,
    master_secret: Annotated[
        str | None,
        typer.Option(
            "--master-secret",
            help="Reference to the master user's secret, for alternating-users. "
            "Default: the secret's masterarn key.",
        ),
    ] = None,
    password_length: Annotated[
        int,
        typer.Option("--password-length", help="Length of the new password."),
    ] = DEFAULT_LENGTH,
    exclude_characters: Annotated[
        str,
        typer.Option(
            "--exclude-characters",
            help="Characters the new password must not contain.",
        ),
    ] = DEFAULT_EXCLUDED,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print what the rotation did as JSON.")
    ] = False,
) -> None:
    """Rotate a PostgreSQL or Redshift password: createSecret, setSecret, testSecret
    and finishSecret, as the Lambda function does."""
    chosen = _strategy(strategy)
    if master_secret is not None and chosen is not Strategy.ALTERNATING_USERS:
        raise UsageError(
            "--master-secret applies to --strategy alternating-users only.",
            hint="Drop --master-secret, or use --strategy alternating-users.",
        )
    try:
        policy = PasswordPolicy(
            length=password_length, exclude_characters=exclude_characters
        )
    except PrizmError as error:
        raise UsageError(error.message, hint=error.hint) from None

    as_json = json_mode(json_output)
    if not as_json:
        stderr.print(f"Rotating {reference} ({chosen.value}).", markup=False)
    report = rotate_reference(
        integration_service(),
        reference,
        chosen,
        master_reference=master_secret,
        policy=policy,
        progress=None if as_json else _print_progress,
    )
    emit(report.to_dict(), lambda: _print_report(report), as_json=json_output)


def _strategy(text: str | None) -> Strategy:
    if text is None:
        raise UsageError(
            "Missing option --strategy.",
            hint=f"Choose one of {STRATEGIES}, for example: prizm rotate "
            "vault://aws/prizm/db --strategy single-user",
        )
    try:
        return Strategy(text)
    except ValueError:
        raise UsageError(
            f"--strategy must be one of {STRATEGIES}, not {text!r}.",
            hint="See: prizm rotate --help",
        ) from None


def _print_progress(step: str, result: StepResult | None) -> None:
    if result is None:
        stderr.print(f"  {step} ...", end="", markup=False)
        return
    stderr.print(f" {result.detail}", markup=False)


def _print_report(report: RotationReport) -> None:
    resumed = " (finished an earlier, unfinished rotation)" if report.resumed else ""
    stdout.print(
        f"Rotated {report.secret_arn}{resumed}: AWSCURRENT moved from version "
        f"{report.old_version_id} to {report.new_version_id}.",
        markup=False,
    )
