"""``prizm keys``: rotate the master key and check that credentials still open."""

from __future__ import annotations

import typer

from prizm.cli.context import store
from prizm.cli.integration import JsonOption
from prizm.cli.output import emit, stdout
from prizm.keys import check_keys, reset_lost_key, rotate_keys

__all__ = ["app"]

app = typer.Typer(help="Manage the master key that encrypts stored credentials.")


@app.command("rotate")
def rotate(json_output: JsonOption = False) -> None:
    """Re-encrypt every stored credential under a new master key, without downtime.

    Run it again if it is interrupted: it finishes the rotation it started.
    """
    report = rotate_keys(store())

    def render() -> None:
        stdout.print(
            f"Primary master key: {report.primary_key_id} ({report.mode}). "
            f"Re-encrypted {len(report.resealed)} integrations, "
            f"{len(report.unchanged)} already current, "
            f"{len(report.without_credentials)} with no stored credentials.",
            markup=False,
        )
        if report.retired_key_ids:
            stdout.print(
                f"Retired keys: {', '.join(report.retired_key_ids)}", markup=False
            )
        if report.pending:
            stdout.print(
                "These integrations changed during the rotation, so the old keys "
                f"were kept: {', '.join(report.pending)}. Run prizm keys rotate again.",
                markup=False,
            )
        if report.unreadable:
            stdout.print(
                "These integrations' credentials open with no known key, so the old "
                f"keys were kept: {', '.join(report.unreadable)}. Enter their "
                "credentials again with prizm integration update, then rerun.",
                markup=False,
            )

    emit(report.to_dict(), render, as_json=json_output)
    if not report.finished:
        raise typer.Exit(1)


@app.command("check")
def check(json_output: JsonOption = False) -> None:
    """List integrations whose stored credentials cannot be decrypted."""
    checks = check_keys(store())
    unreadable = [item for item in checks if not item.readable]

    def render() -> None:
        if not unreadable:
            stdout.print(
                f"All {len(checks)} integrations' credentials open.", markup=False
            )
            return
        for item in unreadable:
            stdout.print(
                f"{item.integration}: sealed with key {item.key_id or 'unknown'}, "
                "which is not available. Set PRIZM_MASTER_KEY to that key or restore "
                "the key file that holds it; if the key is lost, run prizm keys "
                "reset (when the key file is missing) and enter the credentials "
                f"again with: prizm integration update {item.type} "
                f"{item.integration} ...",
                markup=False,
            )

    emit([item.to_dict() for item in checks], render, as_json=json_output)
    if unreadable:
        raise typer.Exit(1)


@app.command("reset")
def reset(json_output: JsonOption = False) -> None:
    """Start a new master key after the key file was lost.

    It writes a new key file only when none exists. Credentials sealed with the
    lost key cannot be recovered: enter them again with prizm integration update.
    """
    lost = reset_lost_key(store())

    def render() -> None:
        stdout.print("Wrote a new master key file.", markup=False)
        for name in lost:
            stdout.print(
                f"{name}: its stored credentials were sealed with the lost key. Enter "
                "them again with: prizm integration update ...",
                markup=False,
            )

    emit({"unreadable": lost}, render, as_json=json_output)
