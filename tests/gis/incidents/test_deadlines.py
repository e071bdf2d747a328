"""Time limits: continuous and working time, holidays and make-up days, yellow and red flags."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gis.errors import FormatError, InputError
from gis.incidents import DEFAULT
from gis.incidents.deadlines import WorkingCalendar, due_at, flag, read_calendar

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()  # Monday to Friday, 09:00-18:00, Asia/Shanghai
FRIDAY_5PM = datetime(2026, 11, 20, 17, tzinfo=SH)


@pytest.mark.parametrize(
    ("limit", "due"),
    [
        ({"hours": 2}, datetime(2026, 11, 20, 19, tzinfo=SH)),
        ({"working_hours": 2}, datetime(2026, 11, 23, 10, tzinfo=SH)),  # one hour Friday, one Monday
        ({"working_days": 3}, datetime(2026, 11, 25, 17, tzinfo=SH)),
    ],
)
def test_due_times_in_continuous_and_working_time(limit, due):
    assert due_at(FRIDAY_5PM, limit, CAL) == due


def test_a_report_at_night_starts_counting_next_morning_and_holidays_are_off():
    saturday_night = datetime(2026, 11, 21, 23, tzinfo=SH)
    assert due_at(saturday_night, {"working_hours": 1}, CAL) == datetime(2026, 11, 23, 10, tzinfo=SH)
    holiday = WorkingCalendar(holidays=frozenset({date(2026, 11, 23)}), extra_workdays=frozenset({date(2026, 11, 22)}))
    assert due_at(saturday_night, {"working_hours": 10}, holiday) == datetime(2026, 11, 24, 10, tzinfo=SH)


def test_flags_turn_yellow_at_the_limit_and_red_at_twice_it():
    limit = {"working_hours": 8}  # due Monday 16:00; red at Tuesday 15:00
    for when, expected in [((23, 15), "none"), ((23, 16), "yellow"), ((24, 15), "red")]:
        now = datetime(2026, 11, when[0], when[1], tzinfo=SH)
        assert flag(FRIDAY_5PM, limit, now=now, calendar=CAL) == expected
    late = datetime(2026, 12, 1, tzinfo=SH)
    assert flag(FRIDAY_5PM, limit, now=late, calendar=CAL, finished=True) == "none"
    assert flag(FRIDAY_5PM, None, now=late, calendar=CAL) == "none"


def test_emergencies_run_on_the_clock_through_nights_weekends_and_holidays():
    holiday = WorkingCalendar(holidays=frozenset({date(2026, 11, 20)}))  # the Friday itself is off
    for cal in (CAL, holiday):
        assert due_at(FRIDAY_5PM, {"working_hours": 8}, cal, continuous=True) == datetime(2026, 11, 21, 1, tzinfo=SH)
        assert due_at(FRIDAY_5PM, {"working_days": 1}, cal, continuous=True) == datetime(2026, 11, 21, 17, tzinfo=SH)
    saturday_2am = datetime(2026, 11, 21, 2, tzinfo=SH)
    assert flag(FRIDAY_5PM, {"working_hours": 8}, now=saturday_2am, calendar=CAL, continuous=True) == "yellow"
    assert flag(FRIDAY_5PM, {"working_hours": 8}, now=saturday_2am, calendar=CAL) == "none"  # paused for the night


def test_limits_are_inherited_and_checked():
    assert DEFAULT.find("sanitation.garbage.bulky").limit == ("working_hours", 8)
    assert DEFAULT.find("emergency.fire").limit == ("hours", 2)
    with pytest.raises(InputError, match=r"expected one of \['hours', 'working_hours', 'working_days'\]"):
        due_at(FRIDAY_5PM, {"days": 2}, CAL)
    with pytest.raises(InputError, match="must be a positive number"):
        due_at(FRIDAY_5PM, {"hours": -1}, CAL)


def test_a_calendar_file_is_read_and_checked(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"timezone": "Asia/Taipei", "start": "08:30", "holidays": ["2026-10-10"]}))
    cal = read_calendar(path)
    assert (cal.timezone, cal.start, cal.holidays) == ("Asia/Taipei", time(8, 30), frozenset({date(2026, 10, 10)}))
    path.write_text(json.dumps({"start": "nine"}))
    with pytest.raises(FormatError, match="cannot read the working calendar"):
        read_calendar(path)
    with pytest.raises(InputError, match="unknown time zone 'Mars/Base'"):
        WorkingCalendar(timezone="Mars/Base")
