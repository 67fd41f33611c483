"""The Snowflake connector, offline: fields, driver arguments, keys and errors.

No Snowflake account is reachable here. The driver's login request goes to a local
fake that checks the password or the key-pair JWT and answers as Snowflake does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from prizm.connector_service import ConnectorService
from prizm.connectors.base import FieldValues
from prizm.connectors.snowflake import SNOWFLAKE, load_private_key
from prizm.errors import InvalidField
from prizm.jobs import JobService
from prizm.secrets import SecretValue
from prizm.store import open_store
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture
from tests.support.httpfake import FakeRequest, FakeServer

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PASSPHRASE = "key-passphrase-for-tests"


def pem(passphrase: str | None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


class SnowflakeFake:
    """Answers /session/v1/login-request: wrong credentials get error 390100."""

    def __init__(self, password: str) -> None:
        self.password = password
        self.server = FakeServer(self.handle)
        self.logins: list[dict[str, object]] = []

    def handle(self, request: FakeRequest) -> tuple[int, dict[str, object]]:
        data = request.json()["data"]
        self.logins.append(data)
        accepted = data.get("PASSWORD") == self.password
        token = data.get("TOKEN")
        if token:
            public = KEY.public_key()
            try:
                jwt.decode(
                    token, public, algorithms=["RS256"], options={"verify_aud": False}
                )
                accepted = True
            except jwt.PyJWTError:
                accepted = False
        if not accepted:
            return 200, {
                "data": {"nextAction": None},
                "code": "390100",
                "message": "Incorrect username or password was specified.",
                "success": False,
            }
        # Past the login the fake goes no further: it reports a missing database,
        # which proves the credentials were accepted.
        return 200, {
            "data": {"nextAction": None},
            "code": "390201",
            "message": "The requested database does not exist or not authorized.",
            "success": False,
        }


@pytest.fixture
def snowflake(canaries: Canaries) -> Iterator[SnowflakeFake]:
    fake = SnowflakeFake(canaries.make("snowflake-password"))
    with fake.server:
        yield fake


def values(**fields: str) -> FieldValues:
    base: dict[str, str | SecretValue] = {
        "account": "myorg-account1",
        "username": "PRIZM",
        "database": "ANALYTICS",
    }
    for name, value in fields.items():
        base[name] = (
            SecretValue(value) if name in ("password", "private_key") else value
        )
    return FieldValues(base)


class TestArguments:
    def test_password_arguments(self) -> None:
        arguments = SNOWFLAKE.connect_arguments(
            values(password="p@ss:w/rd", warehouse="WH", role="READER")
        )

        assert arguments["account"] == "myorg-account1"
        assert arguments["user"] == "PRIZM"
        assert arguments["password"] == "p@ss:w/rd"
        assert arguments["warehouse"] == "WH"
        assert arguments["role"] == "READER"
        assert arguments["database"] == "ANALYTICS"
        assert "private_key" not in arguments

    def test_key_pair_arguments(self) -> None:
        arguments = SNOWFLAKE.connect_arguments(
            values(private_key=pem(PASSPHRASE), private_key_passphrase=PASSPHRASE)
        )

        loaded = serialization.load_der_private_key(arguments["private_key"], None)
        assert "password" not in arguments
        assert loaded.private_numbers() == KEY.private_numbers()  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("passphrase", "key_passphrase", "problem"),
        [
            (None, PASSPHRASE, "it is encrypted and no passphrase is set"),
            ("wrong", PASSPHRASE, "the passphrase is wrong"),
            (PASSPHRASE, None, "it is not encrypted, but a passphrase is set"),
        ],
        ids=["missing-passphrase", "wrong-passphrase", "needless-passphrase"],
    )
    def test_key_loading_errors(
        self, passphrase: str | None, key_passphrase: str | None, problem: str
    ) -> None:
        with pytest.raises(InvalidField) as caught:
            load_private_key(pem(key_passphrase), passphrase)

        assert problem in caught.value.message
        assert caught.value.__context__ is None

    def test_password_or_key_required(self) -> None:
        service = ConnectorService(open_store())

        with pytest.raises(InvalidField) as caught:
            service.validate(
                "snowflake", {"account": "a-b", "username": "u", "database": "D"}
            )

        assert "'password' or 'private_key'" in caught.value.message

    def test_bad_account_rejected(self) -> None:
        with pytest.raises(InvalidField):
            SNOWFLAKE.validate({"account": "bad account!", "password": "vault://a/b"})


class TestLogin:
    def add(self, aws: AwsFixture, fake: SnowflakeFake, secret: dict[str, str]) -> None:
        aws.add_integration()
        aws.create_secret("prizm/snowflake", json.dumps(secret))
        fields = {
            "account": "myorg-account1",
            "username": "PRIZM",
            "database": "ANALYTICS",
            "host": "127.0.0.1",
            "port": str(fake.server.port),
            "protocol": "http",
            "login_timeout": "10",
        }
        for name in secret:
            fields[name] = f"vault://aws/prizm/snowflake#{name}"
        ConnectorService(open_store()).add("snowflake", "warehouse", fields)

    def test_wrong_password_is_authentication_failure(
        self, aws: AwsFixture, snowflake: SnowflakeFake, canaries: Canaries
    ) -> None:
        self.add(aws, snowflake, {"password": canaries.make("wrong")})

        run = JobService(open_store()).run("warehouse")

        assert run.error_code == "authentication_failed"
        assert len(snowflake.logins) == 1

    def test_password_reaches_driver(
        self, aws: AwsFixture, snowflake: SnowflakeFake
    ) -> None:
        self.add(aws, snowflake, {"password": snowflake.password})

        run = JobService(open_store()).run("warehouse")

        assert run.error_code == "connection_failed"
        assert snowflake.logins[0]["PASSWORD"] == snowflake.password
        assert snowflake.logins[0]["LOGIN_NAME"] == "PRIZM"

    def test_key_pair_reaches_driver(
        self, aws: AwsFixture, snowflake: SnowflakeFake
    ) -> None:
        self.add(
            aws,
            snowflake,
            {"private_key": pem(PASSPHRASE), "private_key_passphrase": PASSPHRASE},
        )

        run = JobService(open_store()).run("warehouse")

        assert run.error_code == "connection_failed"
        assert snowflake.logins[0].get("TOKEN")
