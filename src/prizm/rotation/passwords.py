"""New database passwords, from the ``secrets`` module's random source.

The default alphabet is ASCII letters, digits and punctuation without
``: / @ " ' \\``, the characters AWS's rotation templates exclude by default. Those
break connection URLs and some drivers' quoting, and Redshift rejects ``' " \\ /``
and ``@`` in passwords. A space is never used.

The Lambda handler reads the policy from the variables AWS's templates use:
``PASSWORD_LENGTH``, ``EXCLUDE_CHARACTERS``, ``EXCLUDE_NUMBERS``,
``EXCLUDE_PUNCTUATION``, ``EXCLUDE_UPPERCASE``, ``EXCLUDE_LOWERCASE`` and
``REQUIRE_EACH_INCLUDED_TYPE``.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass

from prizm.errors import InvalidRotationRequest
from prizm.secrets import SecretValue

__all__ = ["DEFAULT_EXCLUDED", "DEFAULT_LENGTH", "PasswordPolicy"]

DEFAULT_LENGTH = 32
MIN_LENGTH = 8
MAX_LENGTH = 4096
DEFAULT_EXCLUDED = ":/@\"'\\"

REDSHIFT_MAX_LENGTH = 64
REDSHIFT_FORBIDDEN = "'\"\\/@ "
"""Redshift passwords are 8 to 64 printable ASCII characters without these, and need
an uppercase letter, a lowercase letter and a digit (Redshift's CREATE USER
reference)."""

_TRUE = ("true", "1", "y", "yes")
_FALSE = ("false", "0", "n", "no")


@dataclass(frozen=True)
class PasswordPolicy:
    """Length and character classes of generated passwords."""

    length: int = DEFAULT_LENGTH
    exclude_characters: str = DEFAULT_EXCLUDED
    exclude_numbers: bool = False
    exclude_punctuation: bool = False
    exclude_uppercase: bool = False
    exclude_lowercase: bool = False
    require_each_included_type: bool = True

    def __post_init__(self) -> None:
        if not MIN_LENGTH <= self.length <= MAX_LENGTH:
            raise _invalid(
                f"The password length {self.length} is out of range; use "
                f"{MIN_LENGTH} to {MAX_LENGTH} characters."
            )
        groups = self.character_groups()
        if not groups:
            raise _invalid("The password policy excludes every character.")
        if self.require_each_included_type and len(groups) > self.length:
            raise _invalid(
                f"A password of {self.length} characters cannot contain each of the "
                f"{len(groups)} included character types."
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> PasswordPolicy:
        """Read the policy from the environment variables of AWS's templates."""
        length_text = environ.get("PASSWORD_LENGTH", str(DEFAULT_LENGTH)).strip()
        if not length_text.isdigit():
            raise _invalid(
                "PASSWORD_LENGTH is not a whole number of characters.",
            )
        return cls(
            length=int(length_text),
            exclude_characters=environ.get("EXCLUDE_CHARACTERS", DEFAULT_EXCLUDED),
            exclude_numbers=_flag(environ, "EXCLUDE_NUMBERS", False),
            exclude_punctuation=_flag(environ, "EXCLUDE_PUNCTUATION", False),
            exclude_uppercase=_flag(environ, "EXCLUDE_UPPERCASE", False),
            exclude_lowercase=_flag(environ, "EXCLUDE_LOWERCASE", False),
            require_each_included_type=_flag(
                environ, "REQUIRE_EACH_INCLUDED_TYPE", True
            ),
        )

    def character_groups(self) -> dict[str, str]:
        """Return the included character types, each without excluded characters.

        A type whose characters are all excluded is left out.
        """
        candidates = {
            "lowercase": "" if self.exclude_lowercase else string.ascii_lowercase,
            "uppercase": "" if self.exclude_uppercase else string.ascii_uppercase,
            "digits": "" if self.exclude_numbers else string.digits,
            "punctuation": "" if self.exclude_punctuation else string.punctuation,
        }
        excluded = set(self.exclude_characters)
        groups = {
            name: "".join(c for c in characters if c not in excluded)
            for name, characters in candidates.items()
        }
        return {name: characters for name, characters in groups.items() if characters}

    def check_redshift(self) -> None:
        """Raise unless every password of this policy is valid for Redshift."""
        groups = self.character_groups()
        allowed = "".join(groups.values())
        problems = []
        if self.length > REDSHIFT_MAX_LENGTH:
            problems.append(f"it is longer than {REDSHIFT_MAX_LENGTH} characters")
        if any(character in allowed for character in REDSHIFT_FORBIDDEN):
            problems.append("it may contain ' \" \\ / or @")
        required = {"lowercase", "uppercase", "digits"}
        if not self.require_each_included_type or not required <= groups.keys():
            problems.append(
                "it may lack an uppercase letter, a lowercase letter or a digit"
            )
        if problems:
            raise _invalid(
                f"The password policy does not fit Redshift: {'; '.join(problems)}.",
            )

    def generate(self) -> SecretValue:
        """Return a new random password, registered for masking."""
        groups = self.character_groups()
        alphabet = "".join(groups.values())
        characters: list[str] = []
        if self.require_each_included_type:
            characters = [secrets.choice(group) for group in groups.values()]
        while len(characters) < self.length:
            characters.append(secrets.choice(alphabet))
        secrets.SystemRandom().shuffle(characters)
        return SecretValue("".join(characters))


def _invalid(message: str) -> InvalidRotationRequest:
    return InvalidRotationRequest(
        message,
        hint="Check the password options (--password-length, --exclude-characters) "
        "or the Lambda variables PASSWORD_LENGTH, EXCLUDE_CHARACTERS and EXCLUDE_*.",
    )


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    text = environ.get(name)
    if text is None or text.strip() == "":
        return default
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _invalid(f"{name} is not true or false.")
