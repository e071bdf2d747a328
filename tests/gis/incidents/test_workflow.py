"""The handling workflow: the main path, shortcuts per class, parking, final states."""

from __future__ import annotations

import itertools

import pytest

from gis.errors import ConflictError, InputError
from gis.incidents import FINAL, HANDLING_CLASSES, STATES, allowed, check_transition

MAIN = ("reported", "accepted", "filed", "dispatched", "handling", "verifying", "closed")


@pytest.mark.parametrize("klass", HANDLING_CLASSES)
def test_every_class_may_walk_the_main_path(klass):
    for here, there in itertools.pairwise(MAIN):
        check_transition(here, there, handling_class=klass)


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
    seen, todo = {"reported"}, ["reported"]
    while todo:
        here = todo.pop()
        for there in allowed(here, handling_class="on_site"):
            if there not in seen:
                seen.add(there)
                todo.append(there)
    assert seen == set(STATES)
