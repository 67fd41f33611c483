"""``prizm user`` and ``prizm token`` on the command line."""

from __future__ import annotations

import json

from prizm.store import open_store
from prizm.users import UserService
from tests.support.canaries import Canaries
from tests.support.fixtures import run_cli

PASSWORD = "correct horse battery staple"


class TestUsers:
    def test_add_reads_password_from_stdin(self, canaries: Canaries) -> None:
        password = canaries.make("admin-password")

        result = run_cli(["user", "add", "admin", "--role", "admin"], stdin=password)

        assert result.status == 0, result.err
        assert "Added user 'admin' with role admin." in result.out
        user = UserService(open_store()).authenticate("admin", password)
        assert user.role == "admin"

    def test_list_json(self) -> None:
        run_cli(["user", "add", "ana", "--role", "editor"], stdin=PASSWORD)

        result = run_cli(["user", "list", "--json"])

        users = json.loads(result.out)
        assert [(u["name"], u["role"]) for u in users] == [("ana", "editor")]
        assert "password" not in result.out

    def test_unknown_role_rejected(self) -> None:
        result = run_cli(["user", "add", "ana", "--role", "owner"], stdin=PASSWORD)

        assert result.status == 1
        assert result.err.startswith("error[invalid_user]: Unknown role 'owner'.")

    def test_duplicate_rejected(self) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)

        result = run_cli(["user", "add", "ana"], stdin=PASSWORD)

        assert result.err.startswith("error[user_exists]: ")

    def test_empty_password_rejected(self) -> None:
        result = run_cli(["user", "add", "ana"], stdin="")

        assert result.status == 2
        assert "usage_error" in result.err

    def test_update_role(self) -> None:
        run_cli(["user", "add", "ana", "--role", "viewer"], stdin=PASSWORD)

        result = run_cli(["user", "update", "ana", "--role", "editor"])

        assert result.status == 0, result.err
        assert "Updated user 'ana': role editor." in result.out
        assert UserService(open_store()).get("ana").role == "editor"

    def test_update_password_ends_sessions(self, canaries: Canaries) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)
        service = UserService(open_store())
        _, cookie = service.start_session(service.get("ana"))
        new_password = canaries.make("new-password")

        result = run_cli(
            ["user", "update", "ana", "--password-stdin"], stdin=new_password
        )

        assert result.status == 0, result.err
        assert service.authenticate("ana", new_password).name == "ana"
        assert service.session(cookie) is None
        event = open_store().audit.events()[-1]
        assert event.action == "user.update"
        assert event.details == {"password_changed": True}

    def test_update_needs_a_change(self) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)

        result = run_cli(["user", "update", "ana"])

        assert result.status == 2
        assert "--role ROLE, --password" in result.err

    def test_only_admin_kept(self) -> None:
        run_cli(["user", "add", "root", "--role", "admin"], stdin=PASSWORD)

        demoted = run_cli(["user", "update", "root", "--role", "viewer"])
        removed = run_cli(["user", "remove", "root"])

        assert demoted.status == 1
        assert demoted.err.startswith("error[invalid_user]: Cannot give 'root'")
        assert "only admin" in demoted.err
        assert removed.status == 1
        assert "only admin" in removed.err
        assert UserService(open_store()).get("root").role == "admin"

    def test_second_admin_may_be_demoted(self) -> None:
        run_cli(["user", "add", "root", "--role", "admin"], stdin=PASSWORD)
        run_cli(["user", "add", "ops", "--role", "admin"], stdin=PASSWORD)

        result = run_cli(["user", "update", "root", "--role", "viewer", "--json"])

        assert result.status == 0, result.err
        assert json.loads(result.out)["role"] == "viewer"
        event = open_store().audit.events()[-1]
        assert event.details["role_before"] == "admin"
        assert event.details["role_after"] == "viewer"

    def test_remove(self) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)

        removed = run_cli(["user", "remove", "ana"])
        again = run_cli(["user", "remove", "ana"])

        assert removed.status == 0
        assert again.err.startswith("error[unknown_user]: ")


class TestTokens:
    def test_create_prints_token_once(self) -> None:
        run_cli(["user", "add", "ci", "--role", "editor"], stdin=PASSWORD)

        created = run_cli(["token", "create", "deploy"])
        listed = run_cli(["token", "list"])

        token = created.out.strip()
        assert token.startswith("prizm_")
        assert token not in listed.out
        assert "deploy" in listed.out
        assert token[:10] + "..." in listed.out
        user = UserService(open_store()).user_for_token(token)
        assert user is not None
        assert user.name == "ci"

    def test_user_needed_with_several_users(self) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)
        run_cli(["user", "add", "bob"], stdin=PASSWORD)

        result = run_cli(["token", "create", "deploy"])

        assert result.status == 1
        assert "--user" in result.err

    def test_revoke(self) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)
        token = run_cli(["token", "create", "t1", "--user", "ana"]).out.strip()

        result = run_cli(["token", "revoke", "t1"])

        assert result.status == 0
        assert UserService(open_store()).user_for_token(token) is None
        assert run_cli(["token", "revoke", "t1"]).err.startswith(
            "error[unknown_token]: "
        )

    def test_duplicate_name_rejected(self) -> None:
        run_cli(["user", "add", "ana"], stdin=PASSWORD)
        run_cli(["token", "create", "t1"])

        result = run_cli(["token", "create", "t1"])

        assert result.err.startswith("error[token_exists]: ")
