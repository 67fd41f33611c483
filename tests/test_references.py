"""The reference grammar and key lookup, without any server."""

from __future__ import annotations

import json

import pytest

from prizm.errors import EmptyValue, InvalidReference, KeyNotFound, NotJson, NullValue
from prizm.references import (
    EXPECTED_FORM,
    LookupContext,
    Reference,
    extract_value,
    parse_reference,
)

CONTEXT = LookupContext("vault://aws/app#k", "aws", "region us-east-1")


class TestParse:
    def test_name_and_key(self) -> None:
        reference = parse_reference("vault://aws/prizm/snowflake#password")

        assert reference.integration == "aws"
        assert reference.name == "prizm/snowflake"
        assert reference.key == "password"
        assert reference.options == ()

    def test_no_key_means_whole_secret(self) -> None:
        reference = parse_reference("vault://aws/prizm/snowflake")

        assert reference.key is None

    @pytest.mark.parametrize(
        "name",
        [
            "prizm/snowflake",
            "prizm-snowflake",
            "Prizm/SnowFlake",
            "a+b=c@d.e_f-g",
            "with+plus",
            "percent%41",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prizm/db-AbCdEf",
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prizm/db",
            "name-ending-AbCdEf",
        ],
        ids=[
            "slash",
            "dash",
            "case",
            "specials",
            "plus",
            "percent",
            "arn",
            "partial-arn",
            "suffix",
        ],
    )
    def test_name_is_verbatim(self, name: str) -> None:
        reference = parse_reference(f"vault://aws/{name}#k")

        assert reference.name == name

    def test_slash_and_dash_names_differ(self) -> None:
        slashed = parse_reference("vault://aws/prizm/snowflake")
        dashed = parse_reference("vault://aws/prizm-snowflake")

        assert slashed.name != dashed.name

    def test_plus_is_not_a_space(self) -> None:
        assert parse_reference("vault://aws/a+b#c+d").name == "a+b"
        assert parse_reference("vault://aws/a+b#c+d").key == "c+d"

    def test_key_is_everything_after_first_hash(self) -> None:
        reference = parse_reference("vault://aws/app#a#b.c/d")

        assert reference.name == "app"
        assert reference.key == "a#b.c/d"

    def test_options(self) -> None:
        reference = parse_reference(
            "vault://aws/app?version-stage=AWSPREVIOUS#password"
        )

        assert reference.option("version-stage") == "AWSPREVIOUS"
        assert reference.key == "password"

    def test_question_mark_in_key_is_key(self) -> None:
        reference = parse_reference("vault://aws/app#what?")

        assert reference.key == "what?"
        assert reference.options == ()

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("", "must start with vault://"),
            ("aws/prizm/snowflake", "must start with vault://"),
            ("secret://aws/x", "must start with vault://"),
            ("VAULT://aws/x", "lowercase"),
            ("vault://", "secret name after the integration is missing"),
            ("vault://aws", "secret name after the integration is missing"),
            ("vault:///name", "integration name is empty"),
            ("vault://aws/", "secret name is empty"),
            ("vault://aws/#key", "secret name is empty"),
            ("vault://aws/x#", "key after '#' is empty"),
            ("vault://aws/x?", "option list after '?' is empty"),
            ("vault://aws/x?colour=red", "unknown option 'colour'"),
            ("vault://aws/x?version-stage", "must have the form name=value"),
            (
                "vault://aws/x?version-stage=",
                "option 'version-stage' has an empty value",
            ),
            ("vault://aws/x?version-stage=A&version-stage=B", "given twice"),
            ("vault://AWS/x", "may contain only lowercase"),
            ("vault://a b/x", "may contain only lowercase"),
            (" vault://aws/x", "whitespace"),
            ("vault://aws/x\n", "whitespace"),
            ("vault://aws/x\x00y", "control character"),
            ("vault://aws/" + "x" * 5000, "longer than"),
        ],
        ids=[
            "empty",
            "no-scheme",
            "wrong-scheme",
            "uppercase-scheme",
            "nothing",
            "integration-only",
            "empty-integration",
            "empty-name",
            "empty-name-with-key",
            "empty-key",
            "empty-options",
            "unknown-option",
            "option-without-value",
            "option-empty-value",
            "duplicate-option",
            "uppercase-integration",
            "space-in-integration",
            "leading-space",
            "trailing-newline",
            "nul",
            "too-long",
        ],
    )
    def test_malformed_shows_expected_form(self, text: str, problem: str) -> None:
        with pytest.raises(InvalidReference) as caught:
            parse_reference(text)

        assert caught.value.code == "invalid_reference"
        assert problem in caught.value.message
        assert EXPECTED_FORM in caught.value.text

    @pytest.mark.parametrize(
        "text",
        [
            "vault://aws/prizm/snowflake#password",
            "vault://aws/a+b=c@d?version-id=0123456789abcdef0123456789abcdef#x#y",
            "vault://aws-eu_2/n?version-stage=AWSPREVIOUS",
            "vault://hashicorp/secret/app?version=3#k",
        ],
    )
    def test_format_gives_back_the_text(self, text: str) -> None:
        assert str(parse_reference(text)) == text

    def test_reference_is_value_object(self) -> None:
        assert parse_reference("vault://aws/x#k") == Reference("aws", "x", (), "k")


class TestExtract:
    def test_no_key_returns_document(self) -> None:
        assert extract_value("  raw text\n", None, CONTEXT) == "  raw text\n"

    def test_string_returned_exactly(self) -> None:
        value = " spaced\n\tlines ünïcødé 🙂 "
        document = json.dumps({"k": value})

        assert extract_value(document, "k", CONTEXT) == value

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("5432", "5432"),
            ("5432.0", "5432.0"),
            ("1e3", "1e3"),
            ("-0.50", "-0.50"),
            ("12345678901234567890123", "12345678901234567890123"),
            ("true", "true"),
            ("false", "false"),
        ],
    )
    def test_scalars_as_json_text(self, raw: str, expected: str) -> None:
        assert extract_value('{"k": ' + raw + "}", "k", CONTEXT) == expected

    def test_objects_and_arrays_compact(self) -> None:
        document = '{"k": {"a": [1, 2.50, "x y"], "b": {"c": null}, "é": true}}'

        assert (
            extract_value(document, "k", CONTEXT)
            == '{"a":[1,2.50,"x y"],"b":{"c":null},"é":true}'
        )

    def test_exact_key_with_dot_wins_over_path(self) -> None:
        document = json.dumps({"a.b": "exact", "a": {"b": "nested"}})

        assert extract_value(document, "a.b", CONTEXT) == "exact"

    @pytest.mark.parametrize("key", ["a/b", "a#b", "/a", "a.b.c", " spaced "])
    def test_top_level_keys_with_special_characters(self, key: str) -> None:
        document = json.dumps({key: "found"})

        assert extract_value(document, key, CONTEXT) == "found"

    def test_json_pointer(self) -> None:
        document = json.dumps({"a": {"b/c": {"d~e": ["zero", "one"]}}})

        assert extract_value(document, "/a/b~1c/d~0e/1", CONTEXT) == "one"

    def test_pointer_miss_falls_back_to_dotted(self) -> None:
        document = json.dumps({"/x": {"a": "dotted"}})

        assert extract_value(document, "/x.a", CONTEXT) == "dotted"

    def test_dotted_path(self) -> None:
        document = json.dumps({"db": {"primary": {"password": "p"}}})

        assert extract_value(document, "db.primary.password", CONTEXT) == "p"

    def test_dotted_path_with_dotted_nested_key(self) -> None:
        document = json.dumps({"a": {"b.c": "inner"}})

        assert extract_value(document, "a.b.c", CONTEXT) == "inner"

    def test_dotted_path_does_not_index_arrays(self) -> None:
        document = json.dumps({"a": ["x"]})

        with pytest.raises(KeyNotFound):
            extract_value(document, "a.0", CONTEXT)

    def test_missing_key_lists_names_not_values(self) -> None:
        document = json.dumps({"username": "admin-value", "password": "pw-value"})

        with pytest.raises(KeyNotFound) as caught:
            extract_value(document, "pasword", CONTEXT)

        text = caught.value.text
        assert caught.value.code == "key_not_found"
        assert "'username'" in text
        assert "'password'" in text
        assert "admin-value" not in text
        assert "pw-value" not in text
        assert "vault://aws/app#k" in text

    def test_null_is_an_error(self) -> None:
        with pytest.raises(NullValue) as caught:
            extract_value('{"k": null}', "k", CONTEXT)

        assert caught.value.code == "null_value"

    def test_empty_string_is_an_error(self) -> None:
        with pytest.raises(EmptyValue):
            extract_value('{"k": ""}', "k", CONTEXT)

    def test_empty_document_is_an_error(self) -> None:
        with pytest.raises(EmptyValue):
            extract_value("", None, CONTEXT)

    def test_not_json_hides_document(self) -> None:
        document = "password=hunter2-secret-text"

        with pytest.raises(NotJson) as caught:
            extract_value(document, "password", CONTEXT)

        error = caught.value
        assert error.code == "not_json"
        assert "hunter2" not in error.text
        assert error.__cause__ is None
        assert error.__context__ is None

    def test_json_array_is_not_an_object(self) -> None:
        with pytest.raises(NotJson) as caught:
            extract_value('["a"]', "k", CONTEXT)

        assert "an array" in caught.value.message

    def test_deep_nesting_is_an_error_not_a_crash(self) -> None:
        document = "[" * 100000 + "]" * 100000

        with pytest.raises(NotJson):
            extract_value(document, "k", CONTEXT)

    def test_many_dots_stays_fast(self) -> None:
        nested: dict[str, object] = {}
        node = nested
        for _ in range(40):
            # Distinct objects: a shared child would make json.dumps expand the
            # document to 2**40 nodes.
            child: dict[str, object] = {"a": {}, "a.a": {}}
            node["a"] = child
            node["a.a"] = {"a": {}, "a.a": {}}
            node = child

        with pytest.raises(KeyNotFound):
            extract_value(json.dumps(nested), ".".join(["a"] * 60) + ".zz", CONTEXT)
