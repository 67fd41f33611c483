"""``prizm resolve`` and ``prizm exec`` with env files of references."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prizm.envfile import parse_env_file
from prizm.errors import UsageError
from tests.support.canaries import Canaries
from tests.support.fixtures import AwsFixture, run_cli, run_cli_process

SHELL_VALUE = "a=b c;$(rm -rf x)`x` 'q' \"dq\" & | > * ? ! \\ # é"


@pytest.fixture
def env_file(aws: AwsFixture, tmp_path: Path, canaries: Canaries) -> Path:
    aws.add_integration()
    aws.create_secret(
        "app/db", json.dumps({"password": canaries.make("env"), "url": SHELL_VALUE})
    )
    path = tmp_path / "app.env"
    path.write_text(
        "# database\n"
        "\n"
        "DB_PASSWORD=vault://aws/app/db#password\n"
        "export DB_URL='vault://aws/app/db#url'\n"
        "PLAIN=not-a-reference=x\n"
    )
    return path


class TestParse:
    def test_comments_quotes_and_export(self) -> None:
        entries = parse_env_file("# c\n\nexport A='x=y'\nB=\"vault://a/b\"\nC=\n", "f")

        assert [(e.name, e.value, e.line) for e in entries] == [
            ("A", "x=y", 3),
            ("B", "vault://a/b", 4),
            ("C", "", 5),
        ]
        assert entries[1].is_reference

    @pytest.mark.parametrize(
        ("line", "value"),
        [
            ("A=vault://aws/db#password # the app's login", "vault://aws/db#password"),
            ("A=vault://aws/db#password\t# tab", "vault://aws/db#password"),
            ("A='a # b' # comment", "a # b"),
            ('A="x" # comment', "x"),
            ("A=vault://aws/db#key#with#hashes", "vault://aws/db#key#with#hashes"),
            ("A='it's'", "it's"),
        ],
        ids=[
            "comment",
            "tab-comment",
            "quoted-hash",
            "quoted-comment",
            "hashes",
            "odd",
        ],
    )
    def test_inline_comments(self, line: str, value: str) -> None:
        (entry,) = parse_env_file(line + "\n", "f")

        assert entry.value == value

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("NOEQUALS\n", "not NAME=VALUE"),
            ("1BAD=x\n", "not a valid variable name"),
            ("A=1\nA=2\n", "sets A again"),
            ('A="unterminated\n', 'opens a " quote that is not closed'),
        ],
        ids=["no-equals", "bad-name", "duplicate", "unterminated"],
    )
    def test_errors_name_the_line(self, text: str, problem: str) -> None:
        with pytest.raises(UsageError) as caught:
            parse_env_file(text, "app.env")

        assert problem in caught.value.message
        assert "app.env" in caught.value.message


class TestResolve:
    @pytest.mark.reveals_values
    def test_lines_with_shell_characters(self, env_file: Path) -> None:
        result = run_cli(["resolve", "--env-file", str(env_file)], reveals=True)

        lines = result.out.splitlines()
        assert result.status == 0, result.err
        assert lines[1] == f"DB_URL={SHELL_VALUE}"
        assert lines[2] == "PLAIN=not-a-reference=x"
        assert lines[0].startswith("DB_PASSWORD=cnry")

    @pytest.mark.reveals_values
    def test_json_object(self, env_file: Path) -> None:
        result = run_cli(
            ["resolve", "--env-file", str(env_file), "--json"], reveals=True
        )

        values = json.loads(result.out)
        assert values["DB_URL"] == SHELL_VALUE
        assert list(values) == ["DB_PASSWORD", "DB_URL", "PLAIN"]

    @pytest.mark.reveals_values
    def test_shell_lines_survive_a_shell(self, env_file: Path, tmp_path: Path) -> None:

        result = run_cli(
            ["resolve", "--env-file", str(env_file), "--shell"], reveals=True
        )
        script = tmp_path / "env.sh"
        script.write_text(result.out + 'printf "%s" "$DB_URL"\n')

        echoed = subprocess.run(["sh", str(script)], capture_output=True, text=True)

        assert echoed.stdout == SHELL_VALUE

    def test_failed_references_all_named(self, aws: AwsFixture, tmp_path: Path) -> None:
        aws.add_integration()
        aws.create_secret("ok", '{"k": "v"}')
        path = tmp_path / "bad.env"
        path.write_text(
            "GOOD=vault://aws/ok#k\nMISSING=vault://aws/none#k\nKEYLESS=vault://aws/ok#nope\n"
        )

        result = run_cli(["resolve", "--env-file", str(path)])

        assert result.status == 1
        assert result.out == ""
        assert "2 references failed" in result.err
        assert "MISSING (secret_not_found)" in result.err
        assert "KEYLESS (key_not_found)" in result.err

    def test_every_failed_reference_named(
        self, aws: AwsFixture, tmp_path: Path
    ) -> None:
        aws.add_integration()
        path = tmp_path / "many.env"
        names = [f"MISSING_{index}" for index in range(25)]
        path.write_text("".join(f"{name}=vault://aws/none#k\n" for name in names))

        result = run_cli(["resolve", "--env-file", str(path)])

        assert result.status == 1
        assert "25 references failed" in result.err
        for name in names:
            assert f"{name} (secret_not_found)" in result.err

    def test_shell_and_json_conflict(self, env_file: Path) -> None:
        result = run_cli(["resolve", "--env-file", str(env_file), "--shell", "--json"])

        assert result.status == 2
        assert json.loads(result.out)["error"]["code"] == "usage_error"
        assert "--shell and --json" in result.out

    def test_nul_value_needs_json(self, aws: AwsFixture, tmp_path: Path) -> None:
        aws.add_integration()
        aws.create_secret("prizm/nul", "before\x00after")
        path = tmp_path / "nul.env"
        path.write_text("N=vault://aws/prizm/nul\n")

        lines = run_cli(["resolve", "--env-file", str(path)])
        shell = run_cli(["resolve", "--env-file", str(path), "--shell"])
        as_json = run_cli(["resolve", "--env-file", str(path), "--json"], reveals=True)
        executed = run_cli(["exec", "--env-file", str(path), "--", "true"])

        for result in (lines, shell, executed):
            assert result.status == 1
            assert result.err.startswith("error[value_problem]")
            assert "N contains a NUL character" in result.err
        assert json.loads(as_json.out) == {"N": "before\x00after"}

    def test_missing_file(self) -> None:
        result = run_cli(["resolve", "--env-file", "/nonexistent/app.env"])

        assert result.status == 2
        assert "does not exist" in result.err


class TestExec:
    def test_child_gets_values_and_status(self, env_file: Path, tmp_path: Path) -> None:
        out = tmp_path / "seen.json"
        code = (
            "import json, os, sys;"
            "seen = {k: os.environ[k] for k in ('DB_URL', 'PLAIN')};"
            f"json.dump(seen, open({str(out)!r}, 'w'));"
            "sys.exit(7)"
        )

        result = run_cli_process(
            ["exec", "--env-file", str(env_file), "--", sys.executable, "-c", code]
        )

        assert result.status == 7
        assert json.loads(out.read_text()) == {
            "DB_URL": SHELL_VALUE,
            "PLAIN": "not-a-reference=x",
        }

    def test_failed_reference_runs_nothing(
        self, aws: AwsFixture, tmp_path: Path
    ) -> None:
        aws.add_integration()
        path = tmp_path / "bad.env"
        path.write_text("MISSING=vault://aws/none#k\n")
        marker = tmp_path / "ran"

        result = run_cli_process(
            [
                "exec",
                "-e",
                str(path),
                "--",
                sys.executable,
                "-c",
                f"open({str(marker)!r}, 'w')",
            ]
        )

        assert result.status == 1
        assert "error[secret_not_found]" in result.err
        assert not marker.exists()

    def test_json_flag_of_child_is_not_ours(self, env_file: Path) -> None:
        result = run_cli_process(
            [
                "exec",
                "-e",
                str(env_file),
                "--",
                sys.executable,
                "-c",
                "print('--json')",
                "--json",
            ]
        )

        assert result.status == 0
        assert result.out == "--json\n"

    def test_unknown_command(self, env_file: Path) -> None:
        result = run_cli(["exec", "-e", str(env_file), "--", "no-such-command-xyz"])

        assert result.status == 127
        assert result.err.startswith("error[command_not_found]")

    def test_no_command(self, env_file: Path) -> None:
        result = run_cli(["exec", "-e", str(env_file)])

        assert result.status == 2
