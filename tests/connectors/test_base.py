"""Helpers shared by the connector types."""

from __future__ import annotations

import pytest

from prizm.connectors.base import format_count


@pytest.mark.parametrize(
    ("number", "expected"),
    [(0, "0 tables"), (1, "1 table"), (2, "2 tables")],
    ids=["zero", "one", "two"],
)
def test_format_count_plural(number: int, expected: str) -> None:
    assert format_count(number, "table") == expected
