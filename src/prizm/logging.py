"""One logging setup for the whole package, with secret values masked.

``RedactingFilter`` masks every value registered in ``prizm.redaction`` in a record's
message, arguments and exception text, so a value never reaches a handler in any of
the forms the registry knows. Tracebacks are rendered by the standard library
formatter, which never prints local variables.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prizm import redaction

__all__ = [
    "SERVER_LOGGERS",
    "JsonFormatter",
    "KeyValueFormatter",
    "PayloadFilter",
    "RedactingFilter",
    "configure_logging",
    "escape_control_characters",
    "install_record_factory",
    "protect_sdk_loggers",
]

SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
"""uvicorn's loggers: its messages, errors with tracebacks, and one line per request."""

SDK_PAYLOAD_LOGGERS = ("botocore.endpoint", "botocore.parsers", "botocore.auth")
"""SDK loggers whose DEBUG records print whole request or response bodies.

botocore 1.44 logs "Making request ... with params" (PutSecretValue's SecretString)
and "Response body" (GetSecretValue's SecretString) before Prizm has seen, let alone
registered, the value, so masking cannot work there and the payload is dropped.
"Sending http request" and botocore.auth's canonical request show the request
headers, which carry a session token.
"""

_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()
) | {"message", "asctime"}


def _masked_argument(value: Any) -> Any:
    """Return a log argument with registered values masked, keeping its type when
    nothing needed masking, so that formatters that read ``record.args`` (uvicorn's
    access log unpacks them) keep working."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redaction.scrub(value)
    try:
        text, shown = str(value), repr(value)
    except Exception:  # noqa: BLE001 - an argument that cannot print is left out
        return "<unprintable>"
    masked = redaction.scrub(text)
    if masked != text or redaction.scrub(shown) != shown:
        return masked
    return value


class RedactingFilter(logging.Filter):
    """Mask registered secret values in a record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redaction.scrub(record.msg)
        else:
            record.msg = redaction.scrub(str(record.msg))
        if isinstance(record.args, tuple):
            record.args = tuple(_masked_argument(value) for value in record.args)
        elif isinstance(record.args, Mapping):
            record.args = {
                key: _masked_argument(value) for key, value in record.args.items()
            }
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redaction.scrub(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redaction.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = redaction.scrub(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, name, redaction.scrub(value))
        return True


class PayloadFilter(logging.Filter):
    """Drop the body from SDK debug records that print request or response payloads."""

    def filter(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else ""
        if getattr(record, "_prizm_payload_checked", False):
            return True
        record._prizm_payload_checked = True
        lowered = template.lower()
        if record.name == "botocore.auth" or any(
            word in lowered for word in ("body", "params", "request")
        ):
            # Only the template's text before its first placeholder is kept, so no
            # argument (the payload) can reach a handler.
            head = template.split("%", 1)[0].split("\n", 1)[0].rstrip(" :")
            record.msg = f"{head}: (payload omitted by Prizm: it may contain secrets)"
            record.args = None
        return True


def protect_sdk_loggers() -> None:
    """Attach the payload and redacting filters to the SDK loggers that need them."""
    for name in SDK_PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, PayloadFilter) for f in logger.filters):
            logger.addFilter(PayloadFilter())
            logger.addFilter(RedactingFilter())


# C0 and C1 control characters and the Unicode line and paragraph separators:
# the characters that end a line or drive a terminal.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_control(match: re.Match[str]) -> str:
    character = match.group()
    return _ESCAPES.get(character) or character.encode("unicode_escape").decode()


def escape_control_characters(text: str) -> str:
    """Return ``text`` with control characters written as escapes (``\\n``), so
    that a logged value cannot start a line of its own."""
    return _CONTROL_CHARACTERS.sub(_escape_control, text)


class KeyValueFormatter(logging.Formatter):
    """Format records as ``time level logger message key=value ...``.

    The message and the values are escaped, so each record is one line. Only an
    exception's traceback follows on lines of its own.
    """

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(
            timespec="milliseconds"
        )
        message = escape_control_characters(record.getMessage())
        line = f"{stamp} {record.levelname:<7} {record.name} {message}"
        extras = _extras(record)
        if extras:
            line += " " + " ".join(
                f"{key}={escape_control_characters(str(value))}"
                for key, value in extras.items()
            )
        if record.exc_text:
            line += "\n" + record.exc_text.rstrip("\n")
        return line


class JsonFormatter(logging.Formatter):
    """Format records as one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(_extras(record))
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str, ensure_ascii=False)


# uvicorn adds a copy of its message with terminal colour codes as an extra.
_DROPPED_EXTRAS = frozenset({"color_message"})


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        name: value
        for name, value in vars(record).items()
        if name not in _STANDARD_ATTRIBUTES
        and name not in _DROPPED_EXTRAS
        and not name.startswith("_")
    }


_factory_installed = False


def install_record_factory() -> None:
    """Mask registered values in every log record the process creates, whatever its
    logger and handlers, by wrapping the record factory. Idempotent."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()
    masking = RedactingFilter()
    payloads = PayloadFilter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        # Payload records lose their arguments before anything formats them.
        if record.name in SDK_PAYLOAD_LOGGERS:
            payloads.filter(record)
        masking.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def install_filter(handler: logging.Handler) -> None:
    """Add the redacting filter to ``handler`` unless it has one."""
    if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
        handler.addFilter(RedactingFilter())


def configure_logging(
    verbosity: int = 0,
    *,
    json_format: bool | None = None,
    also: Sequence[str] = (),
) -> None:
    """Send Prizm's logs to standard error, masked, at a level set by ``verbosity``.

    ``PRIZM_LOG_LEVEL`` overrides the level and ``PRIZM_LOG_FORMAT=json`` selects
    JSON lines. The loggers named in ``also`` (a web server's) get the same handler
    and level, so their lines have Prizm's format. Calling it again replaces the
    handler instead of adding one.
    """
    level_name = os.environ.get("PRIZM_LOG_LEVEL")
    unknown_level = False
    if level_name:
        level = logging.getLevelName(level_name.upper())
        if not isinstance(level, int):
            level = logging.WARNING
            unknown_level = True
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    if json_format is None:
        json_format = os.environ.get("PRIZM_LOG_FORMAT", "").lower() == "json"

    install_record_factory()
    protect_sdk_loggers()
    for root_handler in logging.getLogger().handlers:
        install_filter(root_handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._prizm = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if json_format else KeyValueFormatter())
    install_filter(handler)
    for name in ("prizm", *also):
        logger = logging.getLogger(name)
        for previous in list(logger.handlers):
            if getattr(previous, "_prizm", False):
                logger.removeHandler(previous)
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    if unknown_level:
        logging.getLogger(__name__).warning(
            "PRIZM_LOG_LEVEL=%r is not a log level (use DEBUG, INFO, WARNING or "
            "ERROR); logging at WARNING",
            level_name,
        )
