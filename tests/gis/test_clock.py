"""The calendar clock: set once, it gives the same dates at any hour of the real day."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from gis import clock
from tests.now import NOW


@pytest.fixture
def restore_clock():
    yield
    clock.set_clock(NOW, since=float(os.environ["COMMGRID_NOW_SINCE"]))


def test_the_suite_runs_on_the_set_clock():
    assert NOW <= clock.now() < NOW + timedelta(hours=3)
    # 20:30 UTC is already the next day in Shanghai: "today" depends on the zone asked
    assert clock.today() == NOW.date()
    assert clock.today(ZoneInfo("Asia/Shanghai")) == NOW.date() + timedelta(days=1)


def test_a_standing_clock_stands_and_a_running_one_runs(restore_clock):
    instant = datetime(2030, 2, 3, 4, 5, tzinfo=UTC)
    clock.set_clock(instant)
    assert clock.now() == instant
    clock.set_clock(instant, since=time.time() - 90)
    assert instant + timedelta(seconds=89) < clock.now() < instant + timedelta(seconds=120)


def test_a_clock_without_a_time_zone_is_refused(restore_clock):
    with pytest.raises(ValueError, match="needs a time zone"):
        clock.set_clock(datetime(2030, 1, 1))


def test_settings_set_the_clock_of_a_command():
    from api.settings import Settings

    with pytest.raises(ValueError, match="time zone"):
        Settings(now="2030-01-01T00:00:00")
    assert Settings(now="2030-01-01T08:00:00+08:00").now == datetime(2030, 1, 1, tzinfo=UTC)
