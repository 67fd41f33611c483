"""Connector schedules: cron validation, time zones and ``prizm connector schedule``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from prizm.errors import InvalidSchedule
from prizm.schedules import CronSchedule, parse_schedule
from prizm.store import open_store
from tests.support.fixtures import run_cli


@pytest.fixture
def connector() -> str:
    open_store().connectors.add("analytics", "postgres", {"host": "127.0.0.1"})
    return "analytics"


class TestParseSchedule:
    @pytest.mark.parametrize(
        ("expression", "normalized"),
        [
            ("0 * * * *", "0 * * * *"),
            ("  30   6 * *  1-5 ", "30 6 * * 1-5"),
            ("*/15 * * * *", "*/15 * * * *"),
            ("0 9 1 jan,jul *", "0 9 1 jan,jul *"),
            ("@Daily", "@daily"),
        ],
        ids=["hourly", "extra-spaces", "step", "month-names", "macro"],
    )
    def test_valid_expression(self, expression: str, normalized: str) -> None:
        assert parse_schedule(expression).expression == normalized

    @pytest.mark.parametrize(
        ("expression", "message"),
        [
            ("", "is empty"),
            ("0 * * *", "has 4 fields, not 5"),
            ("0 0 * * * *", "has 6 fields, not 5"),
            ("61 * * * *", "is invalid"),
            ("0 25 * * *", "is invalid"),
            ("x * * * *", "is invalid"),
            ("@reboot", "is not supported"),
            ("0 0 30 2 *", "never matches a date"),
            ("0 " * 70, "longer than 120 characters"),
        ],
        ids=[
            "empty",
            "four-fields",
            "seconds-field",
            "minute-out-of-range",
            "hour-out-of-range",
            "not-a-number",
            "reboot",
            "february-30",
            "too-long",
        ],
    )
    def test_invalid_expression(self, expression: str, message: str) -> None:
        with pytest.raises(InvalidSchedule) as raised:
            parse_schedule(expression)

        assert raised.value.code == "invalid_schedule"
        assert message in raised.value.message
        assert raised.value.hint

    @pytest.mark.parametrize(
        "timezone",
        ["Europe/Pariss", "CEST", "../etc/passwd", "Europe/"],
        ids=["typo", "abbreviation", "path", "trailing-slash"],
    )
    def test_unknown_timezone(self, timezone: str) -> None:
        with pytest.raises(InvalidSchedule) as raised:
            parse_schedule("0 * * * *", timezone)

        assert "time zone" in raised.value.message
        assert "IANA" in raised.value.text

    def test_empty_timezone_is_utc(self) -> None:
        assert parse_schedule("0 * * * *", "").timezone == "UTC"


class TestNextAfter:
    def test_reads_expression_in_its_timezone(self) -> None:
        schedule = CronSchedule("0 9 * * *", "Europe/Paris")

        winter = schedule.next_after(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
        summer = schedule.next_after(datetime(2026, 7, 15, 12, 0, tzinfo=UTC))

        assert winter == datetime(2026, 1, 16, 8, 0, tzinfo=UTC)
        assert summer == datetime(2026, 7, 16, 7, 0, tzinfo=UTC)

    def test_slot_is_strictly_after(self) -> None:
        schedule = CronSchedule("0 * * * *", "UTC")

        following = schedule.next_after(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))

        assert following == datetime(2026, 3, 1, 11, 0, tzinfo=UTC)

    def test_skipped_hour_runs_after_the_change(self) -> None:
        schedule = CronSchedule("30 2 * * *", "Europe/Paris")

        following = schedule.next_after(datetime(2026, 3, 28, 23, 0, tzinfo=UTC))

        assert following == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


class TestScheduleCommand:
    def test_set_show_and_list(self, connector: str) -> None:
        result = run_cli(
            [
                "connector",
                "schedule",
                connector,
                "0 * * * *",
                "--timezone",
                "Asia/Tokyo",
            ]
        )
        shown = run_cli(["connector", "show", connector])
        shown_json = json.loads(run_cli(["connector", "show", connector, "--json"]).out)
        listed = run_cli(["connector", "list"])
        listed_json = json.loads(run_cli(["connector", "list", "--json"]).out)

        assert result.status == 0, result.err
        assert "runs on 0 * * * * (Asia/Tokyo)" in result.out
        assert "prizm scheduler" in result.out
        assert "schedule: 0 * * * * (Asia/Tokyo), next run" in shown.out
        assert "JST" in shown.out
        schedule = shown_json["schedule"]
        assert schedule["cron"] == "0 * * * *"
        assert schedule["timezone"] == "Asia/Tokyo"
        next_run = datetime.fromisoformat(schedule["next_run_at"])
        assert next_run > datetime.now(UTC)
        assert next_run.minute == 0
        assert schedule["next_run_local"].endswith("+09:00")
        assert "0 * * * * (Asia/Tokyo)" in listed.out
        assert listed_json[0]["schedule"] == schedule

    def test_replace_schedule(self, connector: str) -> None:
        run_cli(["connector", "schedule", connector, "0 * * * *"])

        result = run_cli(["connector", "schedule", connector, "@daily", "--json"])

        assert result.status == 0, result.err
        data = json.loads(result.out)
        assert data["schedule"]["cron"] == "@daily"
        assert data["schedule"]["timezone"] == "UTC"
        assert datetime.fromisoformat(data["schedule"]["next_run_at"]).hour == 0

    def test_none_removes_schedule(self, connector: str) -> None:
        run_cli(["connector", "schedule", connector, "0 * * * *"])

        removed = run_cli(["connector", "schedule", connector, "--none"])
        again = run_cli(["connector", "schedule", connector, "--none"])
        shown = json.loads(run_cli(["connector", "show", connector, "--json"]).out)

        assert removed.status == 0, removed.err
        assert "Removed the schedule" in removed.out
        assert "had no schedule" in again.out
        assert shown["schedule"] is None

    def test_invalid_expression_is_rejected(self, connector: str) -> None:
        result = run_cli(["connector", "schedule", connector, "0 * * *"])

        assert result.status == 1
        assert result.err.startswith("error[invalid_schedule]: ")
        assert "has 4 fields" in result.err
        assert "30 6 * * 1-5" in result.err

    def test_unknown_timezone_is_rejected(self, connector: str) -> None:
        result = run_cli(
            ["connector", "schedule", connector, "0 * * * *", "--timezone", "Mars/Base"]
        )

        assert result.status == 1
        assert result.err.startswith("error[invalid_schedule]: Unknown time zone")

    def test_cron_and_none_together_is_a_usage_error(self, connector: str) -> None:
        result = run_cli(["connector", "schedule", connector, "0 * * * *", "--none"])

        assert result.status == 2
        assert result.err.startswith("error[usage_error]")

    def test_missing_cron_is_a_usage_error(self, connector: str) -> None:
        result = run_cli(["connector", "schedule", connector])

        assert result.status == 2
        assert "--none" in result.err

    def test_unknown_connector(self) -> None:
        result = run_cli(["connector", "schedule", "nope", "0 * * * *"])

        assert result.status == 1
        assert result.err.startswith("error[unknown_connector]")

    def test_removing_connector_removes_schedule(self, connector: str) -> None:
        run_cli(["connector", "schedule", connector, "0 * * * *"])

        run_cli(["connector", "remove", connector])

        assert open_store().schedules.all() == []

    def test_run_queue_with_stats_is_a_usage_error(self, connector: str) -> None:
        result = run_cli(["run", connector, "--queue", "--stats"])

        assert result.status == 2
        assert result.err.startswith("error[usage_error]: --stats")
