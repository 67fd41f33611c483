"""Canary secret values and the scan that proves none of them leaked.

A canary is a unique value full of characters that encoders change
(``@ : / # % ? & = +``, a space, a quote and non-ASCII text). Its core token
``cnry<hex>`` survives percent-encoding, so finding the core anywhere means some form
of the value leaked. The scan also looks for the base64 forms that
``prizm.redaction`` knows.
"""

from __future__ import annotations

import secrets
import traceback
from pathlib import Path

from prizm import redaction

__all__ = ["CANARIES", "Canaries", "LeakFound"]


class LeakFound(AssertionError):
    """Raised when a canary value, or a form of it, appears in captured text."""


class Canaries:
    """The canaries planted so far in this test session."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.cores: list[str] = []
        self._forms: set[str] = set()
        self._values_seen = 0
        self._cores_seen = 0

    def make(self, label: str = "value") -> str:
        """Return a new canary such as ``cnry1a2b3c4d5e6f-password@:/#%?&=+ é'x``."""
        core = f"cnry{secrets.token_hex(8)}"
        value = f"{core}-{label}@:/#%?&=+ é'\"x"
        self.values.append(value)
        self.cores.append(core)
        return value

    def make_plain(self, label: str = "value") -> str:
        """Return a canary of letters and digits only, for fields that need them."""
        core = f"cnry{secrets.token_hex(8)}"
        self.values.append(f"{core}{label}")
        self.cores.append(core)
        return f"{core}{label}"

    def watch(self, value: str) -> None:
        """Scan for ``value`` too, such as a password that the code under test made."""
        self.values.append(value)

    def forms(self) -> set[str]:
        """Every string whose presence in output counts as a leak.

        The forms of each value are computed once, when the first scan after it
        was added runs, because the leak scan calls this once per log record.
        """
        self._forms.update(self.cores[self._cores_seen :])
        self._cores_seen = len(self.cores)
        for value in self.values[self._values_seen :]:
            self._forms |= {
                form for form in redaction.variants(value) if len(form) >= 8
            }
        self._values_seen = len(self.values)
        return self._forms

    def scan(self, text: str | bytes, where: str) -> None:
        """Raise ``LeakFound`` naming ``where`` if any canary form is in ``text``."""
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        for form in self.forms():
            if form in text:
                index = text.index(form)
                context = text[max(0, index - 60) : index].replace(form, "<CANARY>")
                raise LeakFound(
                    f"a canary value leaked into {where}, after: {context!r}"
                )

    def scan_traceback(self, error: BaseException) -> None:
        """Scan ``error`` and its chain rendered with every frame's local variables,
        as error trackers and ``capture_locals=True`` render them."""
        rendered = traceback.TracebackException.from_exception(
            error, capture_locals=True
        )
        where = f"the traceback with locals of {error.__class__.__name__}"
        self.scan("".join(rendered.format()), where)

    def scan_tree(self, root: Path, where: str) -> None:
        """Scan every file below ``root`` (the store, key file, logs)."""
        if not root.exists():
            return
        for path in root.rglob("*"):
            if path.is_file():
                self.scan(path.read_bytes(), f"{where}: {path.name}")


CANARIES = Canaries()
