"""Dump and restore of a populated store: every table comes back, data versions move on."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import URL

from gis import migrations
from gis.cluster import DATABASE
from gis.errors import CommgridError, ConflictError, InputError
from gis.incidents.store import create_incident
from gis.patrols.store import import_fixes
from gis.plans.store import publish_plan
from gis.store import begin, create_engine
from gis.store.audit import list_entries, record
from gis.store.backup import archive_revision, dump_store, restore_store, table_checksums, table_rows
from gis.store.users import add_user
from gis.workers.store import change_worker
from tests.gis.patrols import tiny

# Moved by the restore on purpose (data_version) or holding its own entry (audit_log).
CHANGED_BY_RESTORE = ("data_version", "audit_log")


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 400), (180, 120, 90)).save(out, format="PNG")
    return out.getvalue()


def _populate(url: URL) -> None:
    """District, communities, plans (one published, one archived), workers with a photo, patrols,
    an incident with a reporter, users and audit entries."""
    engine = create_engine(url)
    with begin(engine) as conn:
        ids = tiny.make_district(conn)
        conn.execute(
            text(
                "INSERT INTO grid_plan (district_id, name, status) SELECT district_id, 'tiny-v2', 'draft' "
                "FROM grid_plan WHERE name = 'tiny-v1'"
            )
        )
        publish_plan(conn, plan="tiny-v2", actor="alice")
        import_fixes(conn, tiny.a_day(ids), file="day.csv")
        change_worker(conn, ids["worker_a"], photo=_photo())
        lon, lat = tiny.lonlat([200, 200])[0]
        create_incident(
            conn, category="dispute.neighbour", lon=lon, lat=lat, actor="alice", reporter_name="张三",
            reporter_phone="138 0000 0000",
        )  # fmt: skip
        add_user(conn, "alice", role="planner")
        record(conn, actor="alice", action="personal.read", target="/workers", detail={"status": 200})
    engine.dispose()


def _versions(url: URL) -> tuple[dict[str, int], int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        versions = dict(conn.execute(text("SELECT layer, version FROM data_version")).all())
        last = conn.execute(text("SELECT last_value FROM data_version_seq")).scalar_one()
    engine.dispose()
    return versions, last


def _summary(url: URL) -> tuple[dict[str, int], dict[str, str], list]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = table_rows(conn)
        sums = table_checksums(conn, [t for t in rows if t not in CHANGED_BY_RESTORE])
        audit = [(e.actor, e.action, e.target, e.detail) for e in list_entries(conn) if e.action != "backup.restore"]
    engine.dispose()
    return rows, sums, audit


@pytest.fixture(scope="module")
def archive(create_database: Callable[..., URL], tmp_path_factory: pytest.TempPathFactory) -> tuple[URL, Path]:
    """A populated store and its dump, taken before the dump's own audit entry."""
    url = create_database("backup_source", template=DATABASE)
    migrations.upgrade(url)
    _populate(url)
    path = tmp_path_factory.mktemp("backup") / "store.dump"
    summary = dump_store(url, path, actor="ops")
    assert summary.revision == migrations.head() and summary.rows["patrol_point"] > 1000
    return url, path


def test_round_trip_brings_back_every_table_and_moves_the_data_versions_on(archive, create_database):
    source, path = archive
    target = create_database("backup_target", template=DATABASE)  # PostGIS, no tables
    source_versions, source_last = _versions(source)
    restored = restore_store(target, path, actor="ops")
    assert restored.revision == migrations.head() and restored.upgraded_to is None
    rows, sums, audit = _summary(target)
    source_rows, source_sums, source_audit = _summary(source)
    for table in ("district", "grid_plan", "grid", "grid_worker", "incident", "patrol_point", "app_user"):
        assert rows[table] == source_rows[table] > 0, table
    assert sums == source_sums
    assert audit == [a for a in source_audit if a[1] != "backup.dump"]
    versions, last = _versions(target)
    assert min(versions.values()) > max(max(source_versions.values()), source_last)
    assert last >= max(versions.values())
    engine = create_engine(target)
    with engine.connect() as conn:
        photo = conn.execute(text("SELECT photo FROM grid_worker WHERE photo IS NOT NULL")).scalar_one()
        (entry,) = list_entries(conn, action="backup.restore")
    engine.dispose()
    assert photo[:2] == b"\xff\xd8" and entry.actor == "ops"  # a JPEG, byte for byte
    # the dump was recorded in the source, after the fact
    with create_engine(source).connect() as conn:
        assert list_entries(conn, action="backup.dump")[0].actor == "ops"


def test_a_store_holding_data_is_replaced_only_with_force(archive, create_database):
    _, path = archive
    target = create_database("backup_full", template=DATABASE)
    restore_store(target, path)
    before, _ = _versions(target)
    with pytest.raises(ConflictError, match=r"is not empty \(rows: .*district.*force the restore"):
        restore_store(target, path)
    restore_store(target, path, force=True)
    after, _ = _versions(target)
    assert min(after.values()) > max(before.values())  # again past what the replaced store handed out
    assert _summary(target)[1] == _summary(archive[0])[1]


def test_an_older_archive_is_restored_and_upgraded(create_database, tmp_path):
    old = create_database("backup_old", template=DATABASE)
    migrations.upgrade(old, "0005")
    path = dump_store(old, tmp_path / "old.dump").path
    assert archive_revision(path) == "0005"
    target = create_database("backup_old_target", template=DATABASE)
    assert restore_store(target, path).upgraded_to == migrations.head()
    assert migrations.current(target) == migrations.head()


def test_an_archive_of_a_newer_schema_is_refused(create_database, tmp_path):
    newer = create_database("backup_newer", template=DATABASE)
    engine = create_engine(newer)
    with begin(engine) as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
    engine.dispose()
    path = dump_store(newer, tmp_path / "newer.dump").path
    target = create_database("backup_newer_target", template=DATABASE)
    with pytest.raises(CommgridError, match="revision 9999, which this commgrid does not know"):
        restore_store(target, path)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a dump at all\n", "not an archive of pg_dump's custom format"), (None, "no archive at")],
)
def test_what_is_not_a_commgrid_archive_is_refused(tmp_path, content, message):
    path = tmp_path / "x.dump"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        archive_revision(path)
