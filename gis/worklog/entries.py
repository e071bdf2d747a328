"""What a work log entry is and may be: its kinds, its length, its day (no database here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from gis.errors import InputError

__all__ = ["COMMENT_CHARS", "KINDS", "KIND_LABELS", "MAX_INCIDENTS", "TEXT_CHARS", "EntryIn", "check_day"]

# The kinds of work the city's grid rules name; the store's CHECK constraint holds the same list.
KIND_LABELS = {
    "patrol": "巡查 patrol",
    "household_visit": "入户走访 household visit",
    "dispute": "矛盾纠纷 dispute",
    "information_update": "信息采集更新 information update",
    "other": "其他 other",
}
KINDS = tuple(KIND_LABELS)
TEXT_CHARS = 2000  # a few paragraphs a day; more belongs in an incident report
COMMENT_CHARS = 2000  # the station master's comment on an entry
MAX_INCIDENTS = 50


@dataclass(frozen=True)
class EntryIn:
    """An entry as written: checked on creation, so a bad one never reaches the store."""

    day: date
    kind: str
    text: str
    incident_ids: Sequence[int] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_kind(self.kind)
        check_text(self.text)
        check_incidents(self.incident_ids)


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not a work log kind; use one of {', '.join(KINDS)}", field="kind")


def check_text(text: str) -> None:
    if not text or not text.strip():
        raise InputError("the entry's text is empty; say what was done", field="text")
    if len(text) > TEXT_CHARS:
        raise InputError(f"the entry's text has {len(text)} characters; at most {TEXT_CHARS}", field="text")


def check_incidents(ids: Sequence[int]) -> None:
    if len(ids) > MAX_INCIDENTS:
        raise InputError(f"an entry links at most {MAX_INCIDENTS} incidents, got {len(ids)}", field="incident_ids")
    if len(set(ids)) != len(ids):
        raise InputError("incident_ids names an incident twice", field="incident_ids")


def check_day(day: date, today: date) -> None:
    """A log is written for a day that has begun: today or earlier in the worker's zone."""
    if day > today:
        raise InputError(
            f"date {day.isoformat()} is in the future (today is {today.isoformat()} in the district's time zone); "
            "a log records work done",
            field="date",
        )
