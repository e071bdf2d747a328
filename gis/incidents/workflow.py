"""The handling workflow: states, allowed transitions per handling class, and the check.

::

    reported → accepted → filed → dispatched → handling → verifying → closed
        ↘ returned (back to the reporter) → accepted | invalid
    verifying → rework → handling;   accepted, filed, dispatched, handling → parked → back
    reported, accepted → invalid | duplicate;   closed, invalid, duplicate end it

Handling classes add shortcuts: ``on_site`` incidents, handled where they were found,
go from ``reported`` straight to ``verifying``; ``emergency`` ones straight to
``dispatched``. A parked incident resumes only where it was parked.
"""

from __future__ import annotations

from gis.errors import ConflictError, InputError

__all__ = ["FINAL", "ON_SITE_STEPS", "STATES", "TRANSITIONS", "allowed", "check_transition"]

STATES = (
    "reported",
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
_PARKABLE = ("accepted", "filed", "dispatched", "handling")

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


def allowed(status: str, *, handling_class: str, parked_from: str | None = None) -> list[str]:
    """States an incident in ``status`` may move to, in workflow order.

    Examples
    --------
    >>> allowed("reported", handling_class="emergency")
    ['accepted', 'dispatched', 'returned', 'invalid', 'duplicate']
    >>> allowed("parked", handling_class="approval", parked_from="filed")
    ['filed']
    """
    targets = set(TRANSITIONS.get(status, ())) | set(_SHORTCUTS.get(handling_class, {}).get(status, ()))
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
