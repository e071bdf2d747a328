"""Team accounts: users linked by ids to a worker record, led grids or a community, and shown their scope."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from gis.store import begin, create_engine
from gis.workers.store import assign_worker, retire_worker
from tests.api.conftest import bearer


@pytest.fixture(scope="module")
def team(api_db, client) -> Iterator[dict]:
    """A worker record and the codes of two published grids of the sample district."""
    codes = [f["id"] for f in client.get("/collections/grids/items", params={"limit": 3}).json()["features"]]
    engine = create_engine(api_db)
    with begin(engine) as conn:
        # not the first grid, and retired afterwards: posters and the map of the shared store print the
        # first grids without a worker
        worker = assign_worker(conn, grid_code=codes[2], name="张网格", work_phone="0755-1234 5678")
    yield {"worker": worker.id, "codes": codes}
    with begin(engine) as conn:
        retire_worker(conn, worker.id)
    engine.dispose()


def add(db: str, *args: str):
    return CliRunner().invoke(cli, ["users", "add", *args, "--db", db])


def token_of(result) -> str:
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_a_worker_account_carries_its_worker_record(client, api_db, team):
    db = api_db.render_as_string(hide_password=False)
    token = token_of(add(db, "team-wang", "--role", "grid_worker", "--worker", str(team["worker"])))
    me = client.get("/whoami", headers=bearer(token)).json()
    assert me["role"] == "grid_worker"
    assert me["worker_id"] == team["worker"]
    # one account per worker: a second is refused, naming the worker
    again = add(db, "team-wang-2", "--role", "grid_worker", "--worker", str(team["worker"]))
    assert again.exit_code == 1 and f"grid worker {team['worker']} already has an account" in again.output


def test_leaders_and_station_masters_carry_their_grids_and_community(client, api_db, team):
    db = api_db.render_as_string(hide_password=False)
    a, b = team["codes"][:2]
    leader = token_of(add(db, "team-leader", "--role", "grid_leader", "--grid", a, "--grid", b))
    master = token_of(add(db, "team-master", "--role", "station_master", "--community", "SQ01"))
    led = client.get("/whoami", headers=bearer(leader)).json()
    assert sorted(g["grid_code"] for g in led["grids"]) == sorted([a, b]) and led["communities"] == []
    station = client.get("/whoami", headers=bearer(master)).json()
    assert [c["community"] for c in station["communities"]] == ["SQ01"] and station["grids"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "station_master"], "a station_master answers for a community: name it"),
        (["--role", "grid_leader"], "a grid_leader leads one or more grids"),
        (["--role", "analyst", "--community", "SQ01"], "only station_master and community_director accounts"),
        (["--role", "planner", "--worker", "1"], "only a grid_worker account is linked to a worker record"),
        (["--role", "station_master", "--community", "NOPE"], "no community 'NOPE'"),
        (["--role", "grid_leader", "--grid", "NO-SUCH-GRID"], "no grid ['NO-SUCH-GRID']"),
        (["--role", "grid_worker", "--worker", "999999"], "no grid worker with id 999999"),
        (["--role", "chief"], "unknown role 'chief'"),
    ],
)
def test_a_link_the_role_does_not_take_is_refused_and_nothing_is_stored(client, api_db, args, message):
    db = api_db.render_as_string(hide_password=False)
    refused = add(db, "team-refused", *args)
    assert refused.exit_code == 2, refused.output
    assert message in " ".join(refused.output.split())
    listed = CliRunner().invoke(cli, ["users", "list", "--db", db])
    assert "team-refused" not in listed.output


def test_a_scope_change_reaches_a_cached_token_at_once(client, api_db, team):
    """The token cache keys on the 'users' version, which scope tables move too."""
    from sqlalchemy import text

    db = api_db.render_as_string(hide_password=False)
    token = token_of(add(db, "team-moved", "--role", "grid_leader", "--grid", team["codes"][2]))
    assert len(client.get("/whoami", headers=bearer(token)).json()["grids"]) == 1
    engine = create_engine(api_db)
    with begin(engine) as conn:
        conn.execute(
            text("DELETE FROM patrol_supervisor WHERE user_id = (SELECT id FROM app_user WHERE name = 'team-moved')")
        )
    engine.dispose()
    assert client.get("/whoami", headers=bearer(token)).json()["grids"] == []
