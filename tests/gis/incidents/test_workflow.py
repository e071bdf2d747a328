"""The handling workflow: the main path, shortcuts per class, parking, final states."""

from __future__ import annotations

import itertools

import pytest

from gis.errors import ConflictError, InputError
from gis.incidents import FINAL, HANDLING_CLASSES, STATES, allowed, check_transition

MAIN = ("reported", "accepted", "filed", "dispatched", "handling", "verifying", "closed")


APPROVAL = (
    "reported",
    "line_checked",
    "director_reviewed",
    "approved",
    "dispatched",
    "handling",
    "verifying",
    "closed",
)


@pytest.mark.parametrize("klass", [k for k in HANDLING_CLASSES if k != "approval"])
def test_every_class_but_approval_may_walk_the_main_path(klass):
    for here, there in itertools.pairwise(MAIN):
        check_transition(here, there, handling_class=klass)


def test_approval_incidents_walk_their_chain_and_skip_no_step():
    for here, there in itertools.pairwise(APPROVAL):
        check_transition(here, there, handling_class="approval")
    for here, there in itertools.combinations(APPROVAL[:4], 2):
        if APPROVAL.index(there) - APPROVAL.index(here) > 1:
            with pytest.raises(ConflictError, match=rf"{here} \(approval\) cannot move to '{there}'"):
                check_transition(here, there, handling_class="approval")
    with pytest.raises(ConflictError, match=r"may move to \['line_checked', 'returned', 'invalid', 'duplicate'\]"):
        check_transition("reported", "accepted", handling_class="approval")  # no way round the chain
    assert allowed("line_checked", handling_class="approval") == ["director_reviewed", "returned"]
    assert allowed("returned", handling_class="approval") == [
        "line_checked",
        "invalid",
    ]  # checked again, from the start
    for klass in ("on_site", "coordinated", "emergency"):
        with pytest.raises(ConflictError):
            check_transition("reported", "line_checked", handling_class=klass)


def test_shortcuts_belong_to_their_class():
    check_transition("reported", "verifying", handling_class="on_site")
    check_transition("reported", "dispatched", handling_class="emergency")
    with pytest.raises(ConflictError, match=r"reported \(coordinated\) cannot move to 'dispatched'"):
        check_transition("reported", "dispatched", handling_class="coordinated")


def test_a_parked_incident_resumes_where_it_was_parked():
    assert allowed("parked", handling_class="approval", parked_from="dispatched") == ["dispatched"]
    with pytest.raises(ConflictError, match=r"may move to \['dispatched'\]"):
        check_transition("parked", "handling", handling_class="approval", parked_from="dispatched")


def test_rework_goes_back_to_handling():
    check_transition("verifying", "rework", handling_class="coordinated")
    assert allowed("rework", handling_class="coordinated") == ["handling"]


@pytest.mark.parametrize("state", sorted(FINAL))
def test_final_states_end_it(state):
    assert allowed(state, handling_class="on_site") == []
    with pytest.raises(ConflictError, match=f"the incident is {state}, a final state"):
        check_transition(state, "accepted", handling_class="on_site")


def test_an_unknown_state_is_bad_input_not_a_conflict():
    with pytest.raises(InputError, match="unknown state 'done'"):
        check_transition("reported", "done", handling_class="on_site")


def test_every_state_is_reachable_from_reported():
    seen = set()
    for klass in HANDLING_CLASSES:
        todo = ["reported"]
        while todo:
            here = todo.pop()
            for there in allowed(here, handling_class=klass):
                if (klass, there) not in seen:
                    seen.add((klass, there))
                    todo.append(there)
    assert {state for _, state in seen} | {"reported"} == set(STATES)
    assert {s for k, s in seen if k == "approval"} >= {"line_checked", "director_reviewed", "approved", "closed"}
