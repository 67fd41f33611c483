"""Generated passwords and the policy that shapes them."""

from __future__ import annotations

import string

import pytest

from prizm import redaction
from prizm.errors import InvalidRotationRequest
from prizm.rotation.passwords import DEFAULT_EXCLUDED, PasswordPolicy
from tests.support.canaries import CANARIES


def generate(policy: PasswordPolicy) -> str:
    password = policy.generate().reveal()
    CANARIES.watch(password)
    return password


class TestPasswordPolicy:
    def test_default_password(self) -> None:
        """32 characters of every type, none of : / @ " ' \\."""
        for _ in range(50):
            password = generate(PasswordPolicy())

            assert len(password) == 32
            assert not set(password) & set(DEFAULT_EXCLUDED)
            assert set(password) & set(string.ascii_lowercase)
            assert set(password) & set(string.ascii_uppercase)
            assert set(password) & set(string.digits)
            assert set(password) & set(string.punctuation)
            assert " " not in password

    def test_passwords_differ(self) -> None:
        passwords = {generate(PasswordPolicy()) for _ in range(20)}

        assert len(passwords) == 20

    def test_excluded_types(self) -> None:
        policy = PasswordPolicy(exclude_punctuation=True, exclude_uppercase=True)

        password = generate(policy)

        assert set(password) <= set(string.ascii_lowercase + string.digits)

    def test_value_is_masked(self) -> None:
        """The new password prints masked and is scrubbed from free text."""
        value = PasswordPolicy().generate()
        CANARIES.watch(value.reveal())

        assert str(value) == "********"
        assert value.reveal() not in redaction.scrub(f"password={value.reveal()}")

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            ({"length": 4}, "out of range"),
            ({"length": 5000}, "out of range"),
            (
                {
                    "exclude_numbers": True,
                    "exclude_punctuation": True,
                    "exclude_uppercase": True,
                    "exclude_lowercase": True,
                },
                "excludes every character",
            ),
            (
                {"exclude_characters": string.ascii_letters + string.punctuation},
                None,
            ),
        ],
        ids=["too-short", "too-long", "nothing-left", "digits-only"],
    )
    def test_invalid_policies(
        self, options: dict[str, object], expected: str | None
    ) -> None:
        if expected is None:
            password = generate(PasswordPolicy(**options))  # type: ignore[arg-type]
            assert password.isdigit()
            return
        with pytest.raises(InvalidRotationRequest) as caught:
            PasswordPolicy(**options)  # type: ignore[arg-type]

        assert expected in caught.value.message


class TestFromEnvironment:
    def test_template_variables(self) -> None:
        policy = PasswordPolicy.from_environment(
            {
                "PASSWORD_LENGTH": "24",
                "EXCLUDE_CHARACTERS": "xyz",
                "EXCLUDE_NUMBERS": "yes",
                "REQUIRE_EACH_INCLUDED_TYPE": "false",
            }
        )

        assert policy == PasswordPolicy(
            length=24,
            exclude_characters="xyz",
            exclude_numbers=True,
            require_each_included_type=False,
        )

    def test_defaults_without_variables(self) -> None:
        assert PasswordPolicy.from_environment({}) == PasswordPolicy()

    @pytest.mark.parametrize(
        ("environ", "expected"),
        [
            ({"PASSWORD_LENGTH": "long"}, "PASSWORD_LENGTH"),
            ({"EXCLUDE_NUMBERS": "maybe"}, "EXCLUDE_NUMBERS"),
        ],
        ids=["length", "flag"],
    )
    def test_invalid_variables(self, environ: dict[str, str], expected: str) -> None:
        with pytest.raises(InvalidRotationRequest) as caught:
            PasswordPolicy.from_environment(environ)

        assert expected in caught.value.message


class TestRedshiftPolicy:
    def test_default_fits(self) -> None:
        PasswordPolicy().check_redshift()

    @pytest.mark.parametrize(
        ("options", "expected"),
        [
            ({"length": 65}, "longer than 64"),
            ({"exclude_characters": ""}, "may contain"),
            ({"exclude_numbers": True}, "may lack"),
            ({"require_each_included_type": False}, "may lack"),
        ],
        ids=["too-long", "quotes", "no-digits", "types-not-required"],
    )
    def test_policy_rejected(self, options: dict[str, object], expected: str) -> None:
        policy = PasswordPolicy(**options)  # type: ignore[arg-type]

        with pytest.raises(InvalidRotationRequest) as caught:
            policy.check_redshift()

        assert expected in caught.value.message
