"""Entry point of the ``prizm`` command: command groups, error handling, exit status.

Exit status: 0 on success, 1 when an operation fails, 2 on a usage error. Errors are
printed as one line ``error[<code>]: <message>`` on standard error, or with ``--json``
as ``{"error": {"code": ..., "message": ...}}`` on standard output.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from prizm import redaction
from prizm.audit import current_actor, set_actor
from prizm.cli import (
    audit,
    connector,
    envfile,
    integration,
    integration_aws,
    integration_azure,
    integration_hashicorp,
    keys,
    rotate,
    runs,
    secret,
    serve,
    user,
    worker,
)
from prizm.cli.output import SIGPIPE_STATUS, print_error, state
from prizm.errors import PrizmError, UsageError
from prizm.logging import configure_logging

__all__ = ["app", "main"]

app = typer.Typer(
    name="prizm",
    help="Prizm: connector credentials resolved from your vault at run time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(integration.app, name="integration")
app.add_typer(secret.app, name="secret")
app.add_typer(connector.app, name="connector")
app.add_typer(keys.app, name="keys")
app.command("run")(runs.run_command)
app.command("runs")(runs.runs_command)
app.command("resolve")(envfile.resolve_command)
app.command("audit")(audit.audit_command)
app.command(
    "exec",
    context_settings={"allow_interspersed_args": False},
)(envfile.exec_command)
app.command("rotate")(rotate.rotate)
app.command("worker")(worker.worker_command)
app.command("scheduler")(worker.scheduler_command)
app.add_typer(user.user_app, name="user")
app.add_typer(user.token_app, name="token")
app.command("serve")(serve.serve_command)

# Imported for their commands, which register on the integration groups.
_ = (integration_aws, integration_azure, integration_hashicorp)


@app.callback()
def _root(
    json_output: Annotated[
        bool, typer.Option("--json", help="Print machine-readable JSON output.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-v, -vv).")
    ] = 0,
) -> None:
    state.json = state.json or json_output
    configure_logging(verbosity=verbose)
    set_actor(f"cli:{current_actor().split(':', 1)[-1]}")


def _is_click_error(exc: Exception) -> bool:
    # Typer 0.29 ships its own copy of Click, whose exceptions are not those of the
    # click package, so they are recognised by their interface.
    return hasattr(exc, "exit_code") and hasattr(exc, "format_message")


def _report_click_error(exc: Exception) -> int:
    exit_code = int(getattr(exc, "exit_code", 2))
    if exit_code == 0:
        return 0
    usage = UsageError(str(exc.format_message()))  # type: ignore[attr-defined]
    context = getattr(exc, "ctx", None)
    if context is not None:
        usage.hint = f"See: {context.command_path} --help"
    print_error(usage, as_json=state.json)
    return 2


def _wants_json(argv: list[str]) -> bool:
    # Arguments after "--" belong to the command that prizm exec runs.
    own = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in own


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    state.json = _wants_json(args)
    try:
        result = app(args=args, prog_name="prizm", standalone_mode=False)
    except PrizmError as error:
        print_error(error, as_json=state.json)
        return error.exit_status
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        return 130
    except BrokenPipeError:
        # The reader of standard output went away (`prizm runs | head`): stop
        # quietly with the shell's status for SIGPIPE, as git and others do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_STATUS
    except Exception as exc:  # noqa: BLE001 - last resort: report, scrubbed, no locals
        if _is_click_error(exc):
            return _report_click_error(exc)
        text = "".join(traceback.format_exception(exc))
        if os.environ.get("PRIZM_DEBUG"):
            sys.stderr.write(redaction.scrub(text))
        sys.stderr.write(
            f"error[internal_error]: unexpected {exc.__class__.__name__}; "
            "set PRIZM_DEBUG=1 to print the traceback (values masked).\n"
        )
        return 1
    return int(result) if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
