"""The handling workflow: states, allowed transitions per handling class, and the check.

::

    reported → accepted → filed → dispatched → handling → verifying → closed
        ↘ returned (back to the reporter) → accepted | invalid
    verifying → rework → handling;   accepted, filed, dispatched, handling → parked → back
    reported, accepted → invalid | duplicate;   closed, invalid, duplicate end it

Handling classes add shortcuts: ``on_site`` incidents, handled where they were found,
go from ``reported`` straight to ``verifying``; ``emergency`` ones straight to
``dispatched``. A parked incident resumes only where it was parked.

``approval`` incidents take their own road instead of accepting and filing: a line
check by the community's station master, a review by its community director, then the
street office's approval, each step by its role (:data:`APPROVAL_STEPS`)::

    reported → line_checked → director_reviewed → approved → dispatched → handling → …
        line_checked, director_reviewed ↘ returned → line_checked | invalid

So none of the three can be skipped, nor taken twice or out of order (409).
"""

from __future__ import annotations

from gis.errors import ConflictError, InputError

__all__ = [
    "APPROVAL_STEPS",
    "FINAL",
    "ON_SITE_STEPS",
    "STATES",
    "TRANSITIONS",
    "allowed",
    "check_transition",
]

STATES = (
    "reported",
    "line_checked",
    "director_reviewed",
    "approved",
    "accepted",
    "filed",
    "dispatched",
    "handling",
    "verifying",
    "closed",
    "returned",
    "rework",
    "parked",
    "invalid",
    "duplicate",
)
FINAL = frozenset({"closed", "invalid", "duplicate"})
_PARKABLE = ("accepted", "approved", "filed", "dispatched", "handling")

TRANSITIONS: dict[str, frozenset[str]] = {
    "reported": frozenset({"accepted", "returned", "invalid", "duplicate"}),
    "accepted": frozenset({"filed", "returned", "parked", "invalid", "duplicate"}),
    "filed": frozenset({"dispatched", "parked"}),
    "dispatched": frozenset({"handling", "parked"}),
    "handling": frozenset({"verifying", "parked"}),
    "verifying": frozenset({"closed", "rework"}),
    "rework": frozenset({"handling"}),
    "returned": frozenset({"accepted", "invalid"}),
    "parked": frozenset(_PARKABLE),
    "closed": frozenset(),
    "invalid": frozenset(),
    "duplicate": frozenset(),
}
# The steps a grid worker takes on the spot, for on-site incidents: target -> states it is
# taken from. They report they handled it (reported -> verifying, the on-site shortcut),
# and after a failed check go back to it (rework -> handling -> verifying). Accepting,
# dispatching, closing or writing off an incident stays with the centre (analysts).
ON_SITE_STEPS: dict[str, frozenset[str]] = {
    "verifying": frozenset({"reported", "handling"}),
    "handling": frozenset({"rework"}),
}
_SHORTCUTS: dict[str, dict[str, frozenset[str]]] = {
    "on_site": {"reported": frozenset({"verifying"})},
    "emergency": {"reported": frozenset({"dispatched"})},
}
# The approval chain: each step's state and the role that takes it. Team roles act for the
# incident's community (the community of its grid in force); the street office is the
# centre (analysts and up). See api/routes/incident_routing.py.
APPROVAL_STEPS: dict[str, str] = {
    "line_checked": "station_master",
    "director_reviewed": "community_director",
    "approved": "analyst",
}
# Per class, states whose moves replace the common ones (not added to them).
_ROUTES: dict[str, dict[str, frozenset[str]]] = {
    "approval": {
        "reported": frozenset({"line_checked", "returned", "invalid", "duplicate"}),
        "line_checked": frozenset({"director_reviewed", "returned"}),
        "director_reviewed": frozenset({"approved", "returned"}),
        "approved": frozenset({"dispatched", "parked"}),
        "returned": frozenset({"line_checked", "invalid"}),
    },
}


def allowed(status: str, *, handling_class: str, parked_from: str | None = None) -> list[str]:
    """States an incident in ``status`` may move to, in workflow order.

    Examples
    --------
    >>> allowed("reported", handling_class="emergency")
    ['accepted', 'dispatched', 'returned', 'invalid', 'duplicate']
    >>> allowed("reported", handling_class="approval")
    ['line_checked', 'returned', 'invalid', 'duplicate']
    >>> allowed("parked", handling_class="approval", parked_from="approved")
    ['approved']
    """
    route = _ROUTES.get(handling_class, {})
    common = route[status] if status in route else TRANSITIONS.get(status, frozenset())
    targets = set(common) | set(_SHORTCUTS.get(handling_class, {}).get(status, ()))
    if status == "parked":
        targets = {parked_from} & targets if parked_from else targets
    return [s for s in STATES if s in targets]


def check_transition(status: str, target: str, *, handling_class: str, parked_from: str | None = None) -> None:
    """Raise unless an incident in ``status`` may move to ``target``.

    Raises
    ------
    InputError
        For a target that is no state at all (400).
    ConflictError
        For a state the workflow does not allow from here (409), naming those it does.
    """
    if target not in STATES:
        raise InputError(f"unknown state {target!r}: expected one of {list(STATES)}", field="to")
    targets = allowed(status, handling_class=handling_class, parked_from=parked_from)
    if target not in targets:
        if not targets:
            raise ConflictError(f"the incident is {status}, a final state: it cannot move to {target!r}")
        raise ConflictError(
            f"an incident that is {status} ({handling_class}) cannot move to {target!r}; it may move to {targets}"
        )
