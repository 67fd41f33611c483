"""Property-based tests: any input gives a value or a typed error, never a crash."""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prizm.errors import InvalidField, PrizmError
from prizm.references import (
    KNOWN_OPTIONS,
    MAX_REFERENCE_LENGTH,
    LookupContext,
    Reference,
    extract_value,
    parse_reference,
)

CONTEXT = LookupContext("vault://aws/x#k", "aws", "region us-east-1")
INTEGRATION = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
NAME_CHARACTERS = st.characters(
    blacklist_characters="?#", blacklist_categories=("Cc", "Cs")
)
NAME = st.text(NAME_CHARACTERS, min_size=1, max_size=60).filter(
    lambda name: name == name.strip()
)
OPTION_VALUE = st.text(
    st.characters(blacklist_characters="&#=", blacklist_categories=("Cc", "Cs")),
    min_size=1,
    max_size=20,
).filter(lambda value: value == value.strip())
KEY = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)


@st.composite
def references(draw: st.DrawFn) -> Reference:
    option_names = draw(st.lists(st.sampled_from(sorted(KNOWN_OPTIONS)), unique=True))
    options = tuple((name, draw(OPTION_VALUE)) for name in option_names)
    key = draw(st.none() | KEY)
    if key is not None and key != key.rstrip():
        key = key.rstrip() or "k"
    return Reference(draw(INTEGRATION), draw(NAME), options, key)


class TestGrammar:
    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
    @given(references())
    def test_format_then_parse_is_identity(self, reference: Reference) -> None:
        text = str(reference)

        assert parse_reference(text) == reference
        assert str(parse_reference(text)) == text

    @settings(max_examples=600)
    @given(st.text(max_size=200))
    def test_any_text_parses_or_raises_typed(self, text: str) -> None:
        try:
            reference = parse_reference(text)
        except PrizmError as error:
            assert error.code == "invalid_reference"
        else:
            assert str(reference) == text

    @settings(max_examples=300)
    @given(st.text(alphabet=string.printable, max_size=120))
    def test_prefixed_text_parses_or_raises_typed(self, tail: str) -> None:
        text = "vault://" + tail
        try:
            reference = parse_reference(text)
        except PrizmError as error:
            assert error.code == "invalid_reference"
        else:
            assert str(reference) == text

    def test_oversized_reference_bounded(self) -> None:
        with pytest.raises(PrizmError):
            parse_reference("vault://aws/" + "a" * MAX_REFERENCE_LENGTH)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


class TestKeyLookup:
    @settings(max_examples=500)
    @given(st.text(max_size=300), st.none() | KEY)
    def test_any_document_gives_value_or_typed_error(
        self, document: str, key: str | None
    ) -> None:
        try:
            value = extract_value(document, key, CONTEXT)
        except PrizmError as error:
            assert error.code in {
                "not_json",
                "key_not_found",
                "null_value",
                "empty_value",
            }
            assert error.__cause__ is None
            assert error.__context__ is None
        else:
            assert isinstance(value, str)
            assert value != ""

    @settings(max_examples=500)
    @given(st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=6), KEY)
    def test_any_json_object_gives_value_or_typed_error(
        self, document: dict[str, object], key: str
    ) -> None:
        text = json.dumps(document)
        try:
            value = extract_value(text, key, CONTEXT)
        except PrizmError as error:
            assert error.code in {"key_not_found", "null_value", "empty_value"}
        else:
            if key in document and isinstance(document[key], str):
                assert value == document[key]

    @settings(max_examples=200)
    @given(
        st.dictionaries(
            st.text(min_size=1, max_size=10),
            st.text(min_size=1, max_size=10),
            min_size=1,
        )
    )
    def test_exact_top_level_key_always_wins(self, document: dict[str, str]) -> None:
        for key, expected in document.items():
            assert extract_value(json.dumps(document), key, CONTEXT) == expected


class TestSizes:
    def test_secret_at_64_kib_resolves(self, aws: object) -> None:
        from tests.support.fixtures import AwsFixture, run_cli

        assert isinstance(aws, AwsFixture)
        aws.add_integration()
        padding = "x" * (65536 - len('{"k": "v", "pad": ""}'))
        aws.create_secret("big", json.dumps({"k": "v", "pad": padding}))

        result = run_cli(["secret", "get", "vault://aws/big#k"], reveals=True)

        assert result.status == 0, result.err
        assert result.out == "v\n"

    def test_oversized_field_rejected(self) -> None:
        from prizm.connector_service import ConnectorService
        from prizm.store import open_store

        service = ConnectorService(open_store())

        with pytest.raises(InvalidField) as caught:
            service.validate("postgres", {"host": "h" * 70000, "database": "d"})

        assert "longer than 65536" in caught.value.message
