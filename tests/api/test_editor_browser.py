"""The planner's workbench as a browser shows it: headless Chromium (Debian's) driven by Playwright.

One walk through a draft, as a planner does it: open, move a unit, be refused a move that
splits a grid, undo, lock a grid, re-divide a village, compare, publish. Screenshots of
each step are kept in ``out/test-artifacts/editor`` (or ``$COMMGRID_TEST_ARTIFACTS``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from gis.errors import CommgridError
from gis.plans.edits import move_units
from gis.plans.workbench import copy_plan
from gis.store import begin, create_engine
from gis.store.users import add_user
from tests.api.conftest import database_with_plans, serving

ARTIFACTS = Path(
    os.environ.get("COMMGRID_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "out" / "test-artifacts")
)


@pytest.fixture(scope="module")
def workbench(create_database: Callable[..., URL], sample_plan) -> Iterator[dict]:
    """The sample plan published as 'pub', draft copies 'draft' and 'other', served live, with tokens."""
    url = database_with_plans(create_database, "editor_walk", sample_plan.gpkg, {"pub": True})
    engine = create_engine(url)
    with begin(engine) as conn:
        copy_plan(conn, "pub", "draft")
        copy_plan(conn, "pub", "other")
        tokens = {role: add_user(conn, f"wb-{role}", role=role) for role in ("analyst", "planner")}
    with serving(url) as base:
        yield {"url": base, "engine": engine, "tokens": tokens}
    engine.dispose()


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = ARTIFACTS / "editor"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_editor(browser, base: str, plan: str, token: str | None):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if token:
        page.goto(f"{base}/editor")
        page.evaluate("t => sessionStorage.setItem('commgrid-token', t)", token)
    page.goto(f"{base}/editor?plan={plan}")
    page.wait_for_function(
        "window.__commgrid && (window.__commgrid.ready || window.__commgrid.errors.length)", timeout=60_000
    )
    return page, errors


def candidates(engine, plan: str) -> list[tuple[str, str, str]]:
    """Units on the edge of a grid, with a neighbouring grid of their community: (unit, from, to)."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT u.unit_id, g.code, h.code FROM grid_plan p
                JOIN grid g ON g.plan_id = p.id
                JOIN grid h ON h.plan_id = p.id AND h.id <> g.id AND h.community_id = g.community_id
                JOIN grid_assignment x ON x.grid_id = g.id JOIN unit u ON u.id = x.unit_id
                WHERE p.name = :plan AND g.n_units > 2 AND u.compound IS NULL AND u.households > 0
                  AND ST_Length(ST_Intersection(ST_Boundary(u.geom), ST_Boundary(h.geom))::geography) > 5
                ORDER BY u.unit_id, h.code
                """
            ),
            {"plan": plan},
        ).all()


def a_move(engine, plan: str) -> tuple[str, str, str]:
    """A move the server accepts that leaves a grid off range, so that re-division has work to do."""
    with engine.connect() as conn:
        version = conn.execute(text("SELECT version FROM grid_plan WHERE name = :p"), {"p": plan}).scalar_one()
        for unit, source, target in candidates(engine, plan):
            try:
                checks = move_units(conn, plan, [unit], target, version=version, dry_run=True).grids
            except CommgridError:
                continue
            whole = all(c.contiguous and c.nested and c.compounds_whole for c in checks)
            if whole and len(checks) == 2 and not all(c.in_range for c in checks):
                return unit, source, target
    raise AssertionError("the sample plan has no boundary unit to move")


def a_split(engine, plan: str, target: str) -> str:
    """A unit of the target grid's community that does not touch it: moving it in would split the grid."""
    with engine.connect() as conn:
        return conn.execute(
            text(
                """
                SELECT u.unit_id FROM grid_plan p JOIN grid h ON h.plan_id = p.id AND h.code = :t
                JOIN grid_assignment x ON x.plan_id = p.id JOIN grid g ON g.id = x.grid_id
                JOIN unit u ON u.id = x.unit_id
                WHERE p.name = :plan AND g.community_id = h.community_id AND g.id <> h.id
                  AND u.compound IS NULL AND NOT ST_Intersects(u.geom, h.geom)
                ORDER BY u.unit_id LIMIT 1
                """
            ),
            {"plan": plan, "t": target},
        ).scalar_one()


def click_unit(page, unit: str) -> None:
    point = page.evaluate(
        """u => {
            const s = window.__commgrid;
            const hit = s.layers.units.features.find(x => x.properties.unit_id === u);
            const p = s.map.project(hit.properties.anchor);
            const r = s.map.getCanvas().getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        unit,
    )
    page.mouse.click(*point)


def counts(page, code: str) -> tuple[int, int]:
    row = page.locator(f"#grids tr[data-code='{code}']")
    return int(row.get_attribute("data-households")), int(row.get_attribute("data-population"))


def message(page, pattern: str) -> str:
    page.wait_for_function("p => new RegExp(p).test(window.__commgrid.message)", arg=pattern, timeout=60_000)
    return page.evaluate("window.__commgrid.message")


def assignment(page, community: str) -> dict[str, str]:
    """The community's units and their grids as the page holds them."""
    return page.evaluate(
        "c => Object.fromEntries(window.__commgrid.layers.units.features.map(f => f.properties)"
        ".filter(p => p.community === c).map(p => [p.unit_id, p.grid]))",
        community,
    )


def stored_assignment(engine, plan: str, community: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT u.unit_id, g.code FROM grid_plan p JOIN grid_assignment x ON x.plan_id = p.id
                JOIN grid g ON g.id = x.grid_id JOIN unit u ON u.id = x.unit_id
                JOIN community c ON c.id = u.community_id
                WHERE p.name = :p AND c.community_id = :c
                """
            ),
            {"p": plan, "c": community},
        ).all()
    return dict(rows)


def stored_locks(conn, plan: str) -> list[str]:
    return list(
        conn.execute(
            text(
                "SELECT g.code FROM grid_lock l JOIN grid g ON g.id = l.grid_id JOIN grid_plan p ON p.id = l.plan_id "
                "WHERE p.name = :p ORDER BY 1"
            ),
            {"p": plan},
        ).scalars()
    )


def test_editor_refuses_the_public_and_analysts(browser, workbench):
    for token in (None, workbench["tokens"]["analyst"]):
        page, _ = open_editor(browser, workbench["url"], "draft", token)
        errors = page.evaluate("window.__commgrid.errors")
        assert any("planners and admins" in e for e in errors), errors
        assert page.evaluate("window.__commgrid.map") is None  # nothing of the plan was painted
        page.close()


def test_editor_walks_a_planner_through_a_draft(browser, workbench, shots):
    engine = workbench["engine"]
    unit, source, target = a_move(engine, "draft")
    page, errors = open_editor(browser, workbench["url"], "draft", workbench["tokens"]["planner"])
    assert page.evaluate("window.__commgrid.errors") == [] and errors == []
    state = page.evaluate("({plan: window.__commgrid.plan, grids: Object.keys(window.__commgrid.grids).length})")
    assert state["plan"]["status"] == "draft" and state["plan"]["version"] == 1 and state["grids"] > 5
    page.screenshot(path=str(shots / "1-open.png"))

    # move a unit: pick the receiving grid, click the unit; both grids' counts change
    before = {code: counts(page, code) for code in (source, target)}
    page.click(f"#grids tr[data-code='{target}'] td:first-child")
    assert page.evaluate("window.__commgrid.picked") == target
    # zoom to the unit so that it is large enough to click
    page.evaluate("u => window.__commgrid.api.focus([u])", unit)
    page.wait_for_function("window.__commgrid.map.loaded()")
    click_unit(page, unit)
    message(page, "^moved")
    assert page.evaluate("window.__commgrid.preview.moved_units") == 1
    hh = before[source][0] - counts(page, source)[0]
    assert hh > 0 and counts(page, target)[0] == before[target][0] + hh
    assert counts(page, source)[1] < before[source][1] and counts(page, target)[1] > before[target][1]
    assert page.evaluate("window.__commgrid.plan.version") == 2
    page.screenshot(path=str(shots / "2-moved.png"))

    # a move that would split the receiving grid is refused, with the reason on the map; nothing is stored
    far = a_split(engine, "draft", target)
    page.evaluate("u => window.__commgrid.api.focus([u])", far)
    page.wait_for_function("window.__commgrid.map.loaded()")
    click_unit(page, far)
    text_shown = message(page, "^refused")
    assert "would not be contiguous" in text_shown
    assert page.evaluate("window.__commgrid.refused.units") == [far]
    assert page.locator(".refusal").count() == 1  # the reason, on the map
    assert page.evaluate("window.__commgrid.plan.version") == 2
    page.screenshot(path=str(shots / "3-refused.png"))

    # undo: the unit goes back, the counts are as they were
    page.click("#undo")
    message(page, "^undo")
    assert {code: counts(page, code) for code in (source, target)} == before
    page.click("#redo")
    message(page, "^redo")
    assert counts(page, target)[0] == before[target][0] + hh

    # lock a grid of the community (not one of the two edited), then re-divide the community
    community = page.evaluate("t => window.__commgrid.grids[t].community", target)
    others = page.evaluate(
        "([c, a, b]) => Object.values(window.__commgrid.grids).filter(g => g.community === c && g.code !== a"
        " && g.code !== b).map(g => g.code)",
        [community, source, target],
    )
    locked = others[0] if others else None
    if locked:
        page.check(f"#grids tr[data-code='{locked}'] input.lock")
        message(page, "locked")
        assert page.evaluate("window.__commgrid.locked") == [locked]
        with engine.connect() as conn:  # stored with the plan, not in the tab
            assert stored_locks(conn, "draft") == [locked]
        held = page.evaluate(
            "c => [...window.__commgrid.layers.units.features]"
            ".filter(f => f.properties.grid === c).map(f => f.properties.unit_id).sort()",
            locked,
        )
    page.select_option("#community", community)
    before_redivision = assignment(page, community)
    page.click("#redivide")
    shown = message(page, "^re-divided")
    result = page.evaluate("window.__commgrid.redivision")
    after_redivision = assignment(page, community)
    assert result["moved_units"] and after_redivision != before_redivision

    # the re-division is undone as one stored edit (the grids it retired made again), and redone
    version = page.evaluate("window.__commgrid.plan.version")
    page.click("#undo")
    message(page, "^undo")
    assert assignment(page, community) == before_redivision
    assert stored_assignment(engine, "draft", community) == before_redivision
    assert page.evaluate("window.__commgrid.plan.version") == version + 1
    page.click("#redo")
    message(page, "^redo")
    assert assignment(page, community) == after_redivision == stored_assignment(engine, "draft", community)
    assert result["applied"] and result["community"] == community
    assert f"{result['households_moved']} households moved" in shown
    assert result["locked"] == ([locked] if locked else [])
    if locked:
        assert locked in page.evaluate("Object.keys(window.__commgrid.grids)")
        assert (
            page.evaluate(
                "c => [...window.__commgrid.layers.units.features]"
                ".filter(f => f.properties.grid === c).map(f => f.properties.unit_id).sort()",
                locked,
            )
            == held
        )
    off = page.evaluate(
        "c => Object.values(window.__commgrid.grids).filter(g => g.community === c && g.status !== 'ok').length",
        community,
    )
    assert off == sum(1 for g in result["grids"] if not g["in_range"])
    page.screenshot(path=str(shots / "4-redivided.png"))

    # compare with the published plan: changed grids outlined, share of households moved
    page.click("#compare")
    shown = message(page, "^vs published")
    diff = page.evaluate("window.__commgrid.compare")
    assert "% of households moved" in shown and diff["a"] == "pub" and diff["b"] == "draft"
    assert diff["changed"] or diff["added"]
    outlined = page.evaluate("window.__commgrid.map.getFilter('changed-line')[2][1]")
    assert set(outlined) == set(diff["changed"]) | set(diff["added"])
    page.screenshot(path=str(shots / "5-compared.png"))

    # publish: either published, or refused with the server's report shown
    page.click("#publish")
    shown = message(page, "^(published|publish refused)")
    with engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM grid_plan WHERE name = 'draft'")).scalar_one()
    if shown.startswith("published"):
        assert status == "published"
        assert page.evaluate("window.__commgrid.published") == {"published": "draft"}
    else:
        assert status == "draft" and page.evaluate("window.__commgrid.publishError.status") in (409, 422)
    page.screenshot(path=str(shots / "6-published.png"))
    assert errors == []
    page.close()


def test_editor_shows_a_stale_version_as_someone_elses_change(browser, workbench, shots):
    engine = workbench["engine"]
    unit, _, target = a_move(engine, "other")
    page, _ = open_editor(browser, workbench["url"], "other", workbench["tokens"]["planner"])
    with begin(engine) as conn:  # another planner edits the plan meanwhile
        move_units(conn, "other", [unit], target, version=1)
    page.evaluate(
        "([u, t]) => { window.__commgrid.api.pick(t); return window.__commgrid.api.stroke([u]); }", [unit, target]
    )
    assert page.locator("#conflict").is_visible()
    assert "someone else changed this plan; reload" in page.inner_text("#conflict")
    assert page.evaluate("window.__commgrid.conflict") is True
    page.screenshot(path=str(shots / "7-conflict.png"))
    page.close()


def a_compound(engine, plan: str) -> tuple[list[str], str]:
    """The units of a compound of several units, and a grid of the same community that does not hold it."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                """
                SELECT array_agg(u.unit_id ORDER BY u.unit_id) AS units, min(g.code) AS grid,
                       min(g.community_id) AS community
                FROM grid_plan p JOIN grid_assignment x ON x.plan_id = p.id JOIN grid g ON g.id = x.grid_id
                JOIN unit u ON u.id = x.unit_id
                WHERE p.name = :plan AND u.compound IS NOT NULL
                GROUP BY u.compound HAVING count(*) > 1 ORDER BY u.compound LIMIT 1
                """
            ),
            {"plan": plan},
        ).one()
        other = conn.execute(
            text(
                "SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id "
                "WHERE p.name = :plan AND g.community_id = :c AND g.code <> :g ORDER BY g.code LIMIT 1"
            ),
            {"plan": plan, "c": row.community, "g": row.grid},
        ).scalar_one()
    return list(row.units), other


def test_editor_starts_a_draft_from_the_published_plan_and_brushes_whole_compounds(browser, workbench, shots):
    engine = workbench["engine"]
    page, errors = open_editor(browser, workbench["url"], "pub", workbench["tokens"]["planner"])
    assert "read-only" in page.evaluate("window.__commgrid.message")
    page.fill("#draft-name", "brushed")
    page.click("#copy")
    page.wait_for_url("**/editor?plan=brushed")
    page.wait_for_function("window.__commgrid && window.__commgrid.ready", timeout=60_000)
    assert page.evaluate("window.__commgrid.plan.status") == "draft"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM grid_plan WHERE name = 'brushed'")).scalar_one() == "draft"

    # brush across one unit of a compound: the stroke carries the whole compound
    members, target = a_compound(engine, "brushed")
    page.click(f"#grids tr[data-code='{target}'] td:first-child")
    page.check("#brush")
    page.evaluate("u => window.__commgrid.api.focus([u])", members[0])
    page.wait_for_function("window.__commgrid.map.loaded()")
    x, y = page.evaluate(
        """u => { const s = window.__commgrid; const f = s.layers.units.features.find(x => x.properties.unit_id === u);
                  const p = s.map.project(f.properties.anchor); const r = s.map.getCanvas().getBoundingClientRect();
                  return [r.left + p.x, r.top + p.y]; }""",
        members[0],
    )
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 2, y + 2, steps=3)
    page.mouse.up()
    message(page, "^(moved|refused)")
    carried = page.evaluate(
        "window.__commgrid.refused ? window.__commgrid.refused.units.length : window.__commgrid.preview.moved_units"
    )
    assert carried == len(members)
    page.screenshot(path=str(shots / "8-brushed.png"))
    assert errors == []
    page.close()


def test_editor_locks_are_stored_with_the_plan_for_every_planner(browser, workbench, shots):
    engine = workbench["engine"]
    with begin(engine) as conn:
        copy_plan(conn, "pub", "shared")
        second = add_user(conn, "wb-second-planner", role="planner")
    unit, _, target = a_move(engine, "shared")
    page, errors = open_editor(browser, workbench["url"], "shared", workbench["tokens"]["planner"])
    page.check(f"#grids tr[data-code='{target}'] input.lock")
    message(page, "locked")

    # another planner opening the draft sees the lock, on the list and on the map, and cannot paint into it
    other, other_errors = open_editor(browser, workbench["url"], "shared", second)
    assert other.evaluate("window.__commgrid.locked") == [target]
    assert other.is_checked(f"#grids tr[data-code='{target}'] input.lock")
    assert other.evaluate("window.__commgrid.map.getFilter('locked-line')[2][1]") == [target]
    other.evaluate(
        "([u, t]) => { window.__commgrid.api.pick(t); return window.__commgrid.api.stroke([u]); }", [unit, target]
    )
    assert "locked" in message(other, "^refused")
    other.screenshot(path=str(shots / "9-locked-seen-by-another-planner.png"))
    other.close()

    # a reload keeps it; unlocking is stored too
    page.reload()
    page.wait_for_function("window.__commgrid && window.__commgrid.ready", timeout=60_000)
    assert page.is_checked(f"#grids tr[data-code='{target}'] input.lock")
    page.uncheck(f"#grids tr[data-code='{target}'] input.lock")
    message(page, "unlocked")
    with engine.connect() as conn:
        assert stored_locks(conn, "shared") == []
    assert errors == [] and other_errors == []
    page.close()
