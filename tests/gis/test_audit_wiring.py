"""Publishes and plan edits write the audit log in their own transaction, naming who acted."""

from __future__ import annotations

import pandas as pd
import pytest

from gis.errors import ConflictError
from gis.plans.edits import move_units
from gis.plans.store import ACTOR_OPTION, acting_user, publish_plan
from gis.store.audit import cli_actor, list_entries
from tests.gis.test_store import assignment, district, grids, rect, save  # noqa: F401 - the district fixture

pytestmark = pytest.mark.usefixtures("district")


def test_a_publish_is_recorded_with_the_plan_it_replaced(db_conn, district):  # noqa: F811
    first = save(db_conn, district, "v1", publish=True, actor="ann")
    second = save(db_conn, district, "v2", publish=False)
    publish_plan(db_conn, plan="v2", actor="bob")
    newest, oldest = list_entries(db_conn, action="plan.publish")
    assert (oldest.actor, oldest.target, oldest.detail["archived"]) == ("ann", f"plan:{first}", [])
    assert (newest.actor, newest.target) == ("bob", f"plan:{second}")
    assert newest.detail == {"plan": "v2", "district_id": district, "archived": ["v1"]}


def test_a_refused_publish_leaves_no_entry(db_conn, district):  # noqa: F811
    save(db_conn, district, "v1", publish=True)
    with pytest.raises(ConflictError, match=r"'v1' .* is published already"):
        publish_plan(db_conn, plan="v1")
    assert len(list_entries(db_conn, action="plan.publish")) == 1


def test_the_actor_defaults_to_the_connections_user_then_the_shell_user(db_conn):
    assert acting_user(db_conn) == cli_actor()
    assert acting_user(db_conn.execution_options(**{ACTOR_OPTION: "carol"})) == "carol"
    assert acting_user(db_conn, "dan") == "dan"


def test_an_edit_is_recorded_but_a_dry_run_is_not(db_conn, district):  # noqa: F811
    # u1 and u2 of community c1 in grids G1 and G3: moving u2 into G1 is an edit the checks allow
    three = grids()
    three = pd.concat([three, three.iloc[[0]].assign(code="G3")], ignore_index=True)
    three.loc[0, "geometry"], three.loc[2, "geometry"] = rect(0, 10), rect(10, 20)
    split = assignment().assign(code=["G1", "G3", "G2", "G2"])
    save(db_conn, district, "draft", publish=False, grids=three, assignment=split)
    move_units(db_conn, "draft", ["u2"], "G1", version=1, dry_run=True, actor="eve")
    assert list_entries(db_conn, action="plan.edit") == []
    move_units(db_conn, "draft", ["u2"], "G1", version=1, actor="eve")
    (entry,) = list_entries(db_conn, action="plan.edit")
    assert entry.actor == "eve"
    assert entry.detail == {
        "plan": "draft",
        "moved": 1,
        "units": ["u2"],
        "grid": "G1",
        "version": [1, 2],
        "retired": ["G3"],
    }
