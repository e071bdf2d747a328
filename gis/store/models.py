"""Tables of commgrid's PostGIS store.

One ``MetaData`` with a naming convention (so migrations name constraints predictably),
one ``DeclarativeBase``, ``Mapped[...]`` columns. Every geometry is stored in EPSG:4326
with a GiST index; each district records the projected CRS its measurements use.

Tables hold personal data in ``grid_worker``, ``incident`` (reporter columns) and
``patrol_point``; their comments say so, and later retention and export rules key on them.

Changing a table here needs a new migration in ``gis/migrations/versions``;
``gis.migrations.check`` (run by the tests) fails while the two differ.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from geoalchemy2 import Geometry, WKBElement
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

__all__ = [
    "SRID",
    "WEB_MERCATOR",
    "AppUser",
    "AuditEntry",
    "Barrier",
    "Base",
    "Community",
    "DataVersion",
    "District",
    "Grid",
    "GridAssignment",
    "GridPlan",
    "GridWorker",
    "Incident",
    "IncidentBin",
    "IncidentDay",
    "IncidentEvent",
    "IncidentPhoto",
    "Job",
    "PatrolCompliance",
    "PatrolDevice",
    "PatrolPoint",
    "PatrolRule",
    "PatrolSupervisor",
    "PatrolTrack",
    "PatrolVisit",
    "PlanStatus",
    "StreetOffice",
    "Unit",
    "WorkLogEntry",
    "metadata",
]

SRID = 4326
WEB_MERCATOR = 3857

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PlanStatus:
    """Values of ``grid_plan.status``: a draft, the one published plan, or a plan a newer one replaced."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    ALL = (DRAFT, PUBLISHED, ARCHIVED)


# Reusable column types (warehouse's utils/db/types.py does the same).
intpk = Annotated[int, mapped_column(Identity(), primary_key=True)]
created = Annotated[datetime, mapped_column(server_default=func.now())]


def _fk(target: str, *, on_delete: str = "CASCADE", index: bool = True, nullable: bool = False) -> Any:
    return mapped_column(ForeignKey(target, ondelete=on_delete), index=index, nullable=nullable)


def _geometry(geometry_type: str, *, nullable: bool = False) -> Any:
    # spatial_index=True makes GeoAlchemy2 add a GiST index named idx_<table>_<column>.
    return mapped_column(Geometry(geometry_type, srid=SRID, spatial_index=True), nullable=nullable)


def _tile_geometry(geometry_type: str) -> Any:
    # Tiles are cut in Web Mercator; keeping a projected copy (maintained by PostgreSQL)
    # spares every tile request a transform of every feature it touches.
    return mapped_column(
        Geometry(geometry_type, srid=WEB_MERCATOR, spatial_index=True),
        Computed(f"ST_Transform(geom, {WEB_MERCATOR})", persisted=True),
        comment="geom in EPSG:3857 for vector tiles; computed by the database",
    )


class Base(DeclarativeBase):
    """Declarative base of every commgrid table."""

    metadata = metadata
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        str: Text,
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


class District(Base):
    """A district: the area one plan partitions, with the projected CRS used to measure it."""

    __tablename__ = "district"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(unique=True)
    working_crs: Mapped[str] = mapped_column(comment="projected CRS for areas and lengths, e.g. EPSG:3826")
    boundary: Mapped[WKBElement] = _geometry("MULTIPOLYGON")
    created_at: Mapped[created]


class StreetOffice(Base):
    """A street office (街道) grouping communities of a district."""

    __tablename__ = "street_office"
    __table_args__ = (UniqueConstraint("district_id", "code"),)

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id", index=False)  # the unique constraint serves
    code: Mapped[str]
    name: Mapped[str]
    geom: Mapped[WKBElement | None] = _geometry("MULTIPOLYGON", nullable=True)


class Community(Base):
    """A community (社区): the container grids nest in."""

    __tablename__ = "community"
    __table_args__ = (
        UniqueConstraint("district_id", "community_id"),
        CheckConstraint("admin_code ~ '^[0-9]{12}$'", name="admin_code_12_digits"),
    )

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id", index=False)  # the unique constraint serves
    street_office_id: Mapped[int | None] = _fk("street_office.id", on_delete="SET NULL", nullable=True)
    community_id: Mapped[str] = mapped_column(comment="the community's id in the source data")
    admin_code: Mapped[str | None] = mapped_column(comment="12 digits: 6 county + 3 street + 3 community")
    name: Mapped[str]
    geom: Mapped[WKBElement] = _geometry("MULTIPOLYGON")
    geom_3857: Mapped[WKBElement] = _tile_geometry("MULTIPOLYGON")
    office_phone: Mapped[str | None] = mapped_column(comment="community office phone, printed for residents")
    service_hours: Mapped[str | None] = mapped_column(comment="office service hours, printed for residents")


class Unit(Base):
    """A unit (small area or address point) with its households and residents."""

    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("district_id", "unit_id"),
        CheckConstraint("households >= 0", name="households_not_negative"),
        CheckConstraint("population >= 0", name="population_not_negative"),
    )

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id", index=False)  # the unique constraint serves
    unit_id: Mapped[str] = mapped_column(comment="the unit's id in the source data")
    community_id: Mapped[int | None] = _fk("community.id", on_delete="SET NULL", nullable=True)
    households: Mapped[int]
    population: Mapped[int]
    compound: Mapped[str | None] = mapped_column(comment="residential compound; units sharing one stay together")
    building: Mapped[str | None]
    geom: Mapped[WKBElement] = _geometry("GEOMETRY")
    geom_3857: Mapped[WKBElement] = _tile_geometry("GEOMETRY")


class Barrier(Base):
    """A road, river or railway grids should (soft) or must (hard) not cross."""

    __tablename__ = "barrier"

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id")
    barrier_class: Mapped[str]
    hard: Mapped[bool]
    name: Mapped[str | None]
    geom: Mapped[WKBElement] = _geometry("GEOMETRY")


class GridPlan(Base):
    """A partition of a district into grids: a draft, the published plan, or an archived one.

    At most one plan per district is published; publishing another archives it and
    closes its validity (``valid_to``). ``version`` guards against lost updates.
    """

    __tablename__ = "grid_plan"
    __table_args__ = (
        CheckConstraint("status IN ({})".format(", ".join(f"'{s}'" for s in PlanStatus.ALL)), name="status_known"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="valid_range"),
        Index(
            "uq_grid_plan_published_per_district",
            "district_id",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id")
    name: Mapped[str] = mapped_column(unique=True)
    status: Mapped[str] = mapped_column(server_default=PlanStatus.DRAFT)
    created_at: Mapped[created]
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime | None]
    params: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    report: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    version: Mapped[int] = mapped_column(server_default=text("1"))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy reads this


class Grid(Base):
    """One grid of a plan, with its totals and quality measures."""

    __tablename__ = "grid"
    __table_args__ = (UniqueConstraint("plan_id", "code"),)

    id: Mapped[intpk]
    plan_id: Mapped[int] = _fk("grid_plan.id", index=False)  # the unique (plan_id, code) serves lookups
    code: Mapped[str]
    name: Mapped[str | None]
    community_id: Mapped[int | None] = _fk("community.id", on_delete="SET NULL", nullable=True)
    households: Mapped[int]
    population: Mapped[int]
    n_units: Mapped[int]
    polsby_popper: Mapped[float | None]
    status: Mapped[str]
    reason: Mapped[str | None]
    geom: Mapped[WKBElement] = _geometry("MULTIPOLYGON")
    geom_3857: Mapped[WKBElement] = _tile_geometry("MULTIPOLYGON")


class GridAssignment(Base):
    """Which grid of a plan each unit belongs to, with the unit's counts as that plan has them.

    Counts belong to the plan: a district re-counted for a newer plan leaves older plans
    computing with the numbers they were made from.
    """

    __tablename__ = "grid_assignment"
    __table_args__ = (
        CheckConstraint("households >= 0", name="households_not_negative"),
        CheckConstraint("population >= 0", name="population_not_negative"),
    )

    plan_id: Mapped[int] = mapped_column(ForeignKey("grid_plan.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), primary_key=True, index=True)
    grid_id: Mapped[int] = _fk("grid.id")
    households: Mapped[int] = mapped_column(comment="the unit's households as this plan counts them")
    population: Mapped[int] = mapped_column(comment="the unit's population as this plan counts them")


class GridLock(Base):
    """A grid a planner locked in a plan: edits leave it alone and re-division keeps it.

    Stored with the plan, so a lock outlives the page that set it and every planner sees
    it; it goes with its grid (a grid deleted, or its plan, drops the lock).
    """

    __tablename__ = "grid_lock"

    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True)
    plan_id: Mapped[int] = _fk("grid_plan.id")
    locked_by: Mapped[str | None] = mapped_column(comment="user name of the planner who locked it")
    locked_at: Mapped[datetime]


class GridWorker(Base):
    """A grid worker (网格员). PERSONAL DATA: name, phone and photo identify a person."""

    __tablename__ = "grid_worker"
    __table_args__ = ({"comment": "personal data: grid workers"},)

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id")
    grid_code: Mapped[str | None] = mapped_column(comment="grid code; stays valid across plans")
    grid_id: Mapped[int | None] = _fk("grid.id", on_delete="SET NULL", nullable=True)
    name: Mapped[str] = mapped_column(comment="personal data")
    work_phone: Mapped[str | None] = mapped_column(comment="personal data")
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, comment="personal data")
    duties: Mapped[str | None]
    active: Mapped[bool] = mapped_column(server_default=text("true"))


class Incident(Base):
    """An incident reported in a district, optionally placed in a grid."""

    __tablename__ = "incident"
    __table_args__ = (Index(None, "district_id", "reported_at"),)

    id: Mapped[intpk]
    district_id: Mapped[int] = _fk("district.id")
    category: Mapped[str]
    handling_class: Mapped[str]
    status: Mapped[str]
    reported_at: Mapped[created]
    grid_id: Mapped[int | None] = _fk("grid.id", on_delete="SET NULL", nullable=True)
    description: Mapped[str | None]
    reporter_name: Mapped[str | None] = mapped_column(comment="personal data")
    reporter_phone: Mapped[str | None] = mapped_column(comment="personal data")
    public: Mapped[bool] = mapped_column(server_default=text("false"))
    status_at: Mapped[created] = mapped_column(comment="when the incident entered its current status")
    source: Mapped[str | None] = mapped_column(comment="how it came in: api, open311 or import:<file>")
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("incident.id", ondelete="SET NULL"), comment="an earlier incident this one may repeat"
    )
    # ownership by id, never by name: the reporting account; NULL for Open311, imports and the CLI
    reporter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), index=True, comment="the reporting account; NULL for intake"
    )
    geom: Mapped[WKBElement] = _geometry("POINT")
    geom_3857: Mapped[WKBElement] = _tile_geometry("POINT")


class _IncidentHistory:
    """Columns of a table of an incident's history, read per incident in time order."""

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (Index(None, "incident_id", "at"),)

    id: Mapped[intpk]
    incident_id: Mapped[int] = _fk("incident.id", index=False)  # the (incident_id, at) index serves
    at: Mapped[created]


class IncidentEvent(_IncidentHistory, Base):
    """One status change of an incident: who moved it from what to what, when and why."""

    __tablename__ = "incident_event"

    from_status: Mapped[str | None]
    to_status: Mapped[str]
    actor: Mapped[str]
    note: Mapped[str | None]


class IncidentHandoff(_IncidentHistory, Base):
    """A coordinated incident handed to a department of the configured list, with its work sheet."""

    __tablename__ = "incident_handoff"

    department_id: Mapped[str] = mapped_column(comment="id of the department in the settings' list")
    department_name: Mapped[str] = mapped_column(comment="its name when handed off (the list may change)")
    note: Mapped[str | None]
    by_user_id: Mapped[int | None] = _fk("app_user.id", on_delete="SET NULL", index=False, nullable=True)


class IncidentFeedback(Base):
    """A department's feedback on a hand-off, entered on its behalf by an office user."""

    __tablename__ = "incident_feedback"

    id: Mapped[intpk]
    handoff_id: Mapped[int] = _fk("incident_handoff.id")
    text: Mapped[str]
    by_user_id: Mapped[int | None] = _fk("app_user.id", on_delete="SET NULL", index=False, nullable=True)
    at: Mapped[created]


class IncidentApproval(_IncidentHistory, Base):
    """One step of an approval incident's chain: who (user id) took it, when, with what comment."""

    __tablename__ = "incident_approval"

    step: Mapped[str] = mapped_column(comment="line_checked, director_reviewed or approved")
    by_user_id: Mapped[int | None] = _fk("app_user.id", on_delete="SET NULL", index=False, nullable=True)
    comment: Mapped[str | None]


class IncidentNotification(Base):
    """An emergency notification to one configured contact, and how its delivery went."""

    __tablename__ = "incident_notification"
    __table_args__ = (
        CheckConstraint("channel IN ('webhook', 'email')", name="channel_known"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        Index(None, "incident_id"),
        Index("ix_incident_notification_unsent", "id", postgresql_where=text("status <> 'sent'")),
    )

    id: Mapped[intpk]
    incident_id: Mapped[int] = _fk("incident.id", index=False)  # the index above serves
    channel: Mapped[str] = mapped_column(comment="webhook or email")
    target: Mapped[str] = mapped_column(comment="the webhook URL or the e-mail recipients")
    status: Mapped[str] = mapped_column(server_default="pending", comment="pending, sent or failed")
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    error: Mapped[str | None] = mapped_column(comment="why the last attempt failed")
    created_at: Mapped[created]
    attempted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class IncidentPhoto(Base):
    """A photo of an incident, taken by its reporter. PERSONAL DATA: it may show people and homes.

    Stored as the re-encoded JPEG (no EXIF, no GPS); deleted with its incident.
    """

    __tablename__ = "incident_photo"
    __table_args__ = (
        Index(None, "incident_id", "id"),
        {"comment": "personal data: photos of incidents"},
    )

    id: Mapped[intpk]
    incident_id: Mapped[int] = _fk("incident.id", index=False)  # the (incident_id, id) index serves
    jpeg: Mapped[bytes] = mapped_column(LargeBinary, comment="personal data: the metadata-free JPEG")
    width: Mapped[int]
    height: Mapped[int]
    added_by_user_id: Mapped[int | None] = _fk("app_user.id", on_delete="SET NULL", index=False, nullable=True)
    added_at: Mapped[datetime] = mapped_column(comment="from gis.clock")


class IncidentBin(Base):
    """Incidents per density cell, category, status and public flag, over all time.

    Kept exact by statement-level triggers on ``incident`` (migration 0007), in the same
    transaction as every change, so density tiles summed from it are never stale. A cell
    of ``level`` measures ``40075016.69 m / 2 ** level`` in Web Mercator: a square's side
    (``i``, ``j`` count from the origin eastwards and northwards) or a pointy-top
    hexagon's circumradius (``i``, ``j`` are axial ``q``, ``r``). See :mod:`tiles.density`.
    """

    __tablename__ = "incident_bin"
    __table_args__ = (
        CheckConstraint("shape IN ('hex', 'square')", name="shape_known"),
        Index("ix_incident_bin_empty", "level", postgresql_where=text("n = 0")),
        {"comment": "incident counts per density cell; kept by triggers on incident"},
    )

    shape: Mapped[str] = mapped_column(primary_key=True, comment="hex or square")
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, comment="cell size: 40075016.69 m / 2 ** level")
    i: Mapped[int] = mapped_column(primary_key=True, comment="square column, or hexagon axial q")
    j: Mapped[int] = mapped_column(primary_key=True, comment="square row from the south, or hexagon axial r")
    category: Mapped[str] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(primary_key=True)
    public: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(comment="incidents in the cell")


class IncidentDay(Base):
    """Incidents per UTC day of ``reported_at``, kept by the same triggers as :class:`IncidentBin`."""

    __tablename__ = "incident_day"
    __table_args__ = (
        Index("ix_incident_day_empty", "day", postgresql_where=text("n = 0")),
        {"comment": "incidents per day; kept by triggers on incident"},
    )

    day: Mapped[date] = mapped_column(primary_key=True, comment="UTC date of reported_at")
    n: Mapped[int] = mapped_column(comment="incidents reported that day")


class PatrolPoint(Base):
    """A GPS fix of a worker on patrol. PERSONAL DATA: a person's movements."""

    __tablename__ = "patrol_point"
    __table_args__ = (
        Index(None, "worker_id", "recorded_at"),
        # retention deletes by age; BRIN suits a column that grows with the table and costs next to nothing
        Index(None, "recorded_at", postgresql_using="brin"),
        {"comment": "personal data: workers' positions over time"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    worker_id: Mapped[int] = _fk("grid_worker.id", index=False)  # the (worker_id, recorded_at) index serves
    device: Mapped[str | None]
    recorded_at: Mapped[datetime]
    # No spatial index: points are read by worker and time, maps draw patrol_track lines, and
    # a GiST index makes the bulk COPY of a day's fixes 3-4 times slower (bench/README.md).
    geom: Mapped[WKBElement] = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False))


class PatrolTrack(Base):
    """One patrol as a line: a worker's movement between time gaps and long stops. PERSONAL DATA.

    Derived from ``patrol_point`` by the analysis and purged with it; what supervisors see on the map.
    """

    __tablename__ = "patrol_track"
    __table_args__ = (
        Index(None, "worker_id", "day"),
        Index(None, "day"),
        {"comment": "personal data: workers' movements"},
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    worker_id: Mapped[int] = _fk("grid_worker.id", index=False)  # the (worker_id, day) index serves
    day: Mapped[date] = mapped_column(comment="local date in the district's patrol time zone")
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    points: Mapped[int]
    length_m: Mapped[float]
    geom: Mapped[WKBElement] = _geometry("LINESTRING")
    geom_3857: Mapped[WKBElement] = _tile_geometry("LINESTRING")


class PatrolVisit(Base):
    """A stay of a worker in their own grid: entry and exit times, no positions (kept after purges)."""

    __tablename__ = "patrol_visit"
    __table_args__ = (Index(None, "worker_id", "day"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    worker_id: Mapped[int] = _fk("grid_worker.id", index=False)  # the (worker_id, day) index serves
    day: Mapped[date]
    grid_code: Mapped[str]
    entered_at: Mapped[datetime]
    left_at: Mapped[datetime]
    minutes: Mapped[float]


class PatrolCompliance(Base):
    """Whether a worker kept the patrol rule in their grid on a day, with coverage (kept after purges)."""

    __tablename__ = "patrol_compliance"
    __table_args__ = (Index(None, "district_id", "day"),)

    worker_id: Mapped[int] = mapped_column(ForeignKey("grid_worker.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True, comment="local date in the district's patrol time zone")
    district_id: Mapped[int] = _fk("district.id", index=False)  # the (district_id, day) index serves
    grid_code: Mapped[str | None]
    patrols: Mapped[int]
    visits: Mapped[int]
    long_visits: Mapped[int] = mapped_column(comment="visits at least as long as the rule asks")
    visit_minutes: Mapped[float]
    stops: Mapped[int]
    distance_m: Mapped[float]
    coverage: Mapped[float | None] = mapped_column(comment="share of the grid's streets (or cells) passed within reach")
    coverage_basis: Mapped[str | None] = mapped_column(comment="'streets' or 'cells'")
    longest_unvisited_minutes: Mapped[float | None]
    compliant: Mapped[bool]
    rule: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    computed_at: Mapped[created]


class PatrolDevice(Base):
    """Which grid worker carries a GPS device, so files naming only devices can be imported."""

    __tablename__ = "patrol_device"

    device: Mapped[str] = mapped_column(primary_key=True)
    worker_id: Mapped[int] = _fk("grid_worker.id")
    added_at: Mapped[created]


class PatrolSupervisor(Base):
    """A user who may see the tracks and compliance of a grid's workers without the planner role."""

    __tablename__ = "patrol_supervisor"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"), primary_key=True)
    grid_code: Mapped[str] = mapped_column(primary_key=True)


class PatrolRule(Base):
    """A district's patrol rule and the time zone its days are counted in."""

    __tablename__ = "patrol_rule"

    district_id: Mapped[int] = mapped_column(ForeignKey("district.id", ondelete="CASCADE"), primary_key=True)
    timezone: Mapped[str] = mapped_column(comment="IANA name, e.g. Asia/Shanghai")
    params: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    updated_at: Mapped[created]


class DataVersion(Base):
    """A counter per served layer that every change of its tables moves forward.

    Statement-level triggers (migration 0002) bump it in the same transaction as the
    change, whoever writes, so a tile cache keyed by it can never serve a tile from
    before a committed change. Values come from one sequence started at the
    migration's clock time, so they never repeat, not even in a re-created store.
    """

    __tablename__ = "data_version"

    layer: Mapped[str] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[created]


class Job(Base):
    """A long task run by the service (a partition), with its progress and outcome.

    Stored rather than kept in memory, so every worker process and a restarted
    service answer ``/jobs/{id}`` alike; a job a crash interrupted is marked failed
    when the service starts again.
    """

    __tablename__ = "job"
    __table_args__ = (CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),)

    id: Mapped[str] = mapped_column(primary_key=True, comment="random hex id")
    kind: Mapped[str]
    status: Mapped[str] = mapped_column(server_default="queued")
    done: Mapped[int] = mapped_column(server_default=text("0"))
    total: Mapped[int] = mapped_column(server_default=text("0"))
    message: Mapped[str | None]
    params: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    result: Mapped[dict[str, Any] | None]
    created_by: Mapped[str | None]
    created_at: Mapped[created]
    updated_at: Mapped[created]


class AppUser(Base):
    """A user of the API, with a role and the hash of their access token."""

    __tablename__ = "app_user"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(unique=True)
    role: Mapped[str]
    token_hash: Mapped[str | None] = mapped_column(unique=True, comment="hash only; the token is never stored")
    created_at: Mapped[created]
    # a grid worker's account: the worker record it acts for (patrols, incidents, work log)
    worker_id: Mapped[int | None] = mapped_column(
        ForeignKey("grid_worker.id", ondelete="SET NULL"), unique=True, nullable=True
    )


class UserCommunity(Base):
    """A community a station master or community director answers for: their scope."""

    __tablename__ = "user_community"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), primary_key=True)


class AuditEntry(Base):
    """One audited action: a publish, an edit, an incident transition or a read of personal data.

    Written in the same transaction as the change it records, so an action that rolls
    back leaves no entry and a committed one always has its entry. Never updated.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"), Index(None, "action", "at"))

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[created]
    actor: Mapped[str] = mapped_column(comment="user name, or cli:<os user> for commands")
    action: Mapped[str] = mapped_column(comment="e.g. plan.publish, plan.edit, incident.transition, personal.read")
    target: Mapped[str | None] = mapped_column(comment="what it acted on: plan:<id>, incident:<id>, a route path")
    detail: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))


class WorkLogEntry(Base):
    """One entry of a grid worker's work log (工作日志): a local day, a kind, what they did.

    PERSONAL DATA: the text may name residents. Reviewed by a station master of the
    worker's community (who and when by user id); the worker may edit it until then.
    """

    __tablename__ = "work_log_entry"
    __table_args__ = (
        Index(None, "worker_id", "day"),
        Index(None, "district_id", "day"),
        CheckConstraint("kind IN ('patrol', 'household_visit', 'dispute', 'information_update', 'other')", name="kind"),
        {"comment": "personal data: grid workers' work logs"},
    )

    id: Mapped[intpk]
    worker_id: Mapped[int] = _fk("grid_worker.id", index=False)  # the (worker_id, day) index serves
    district_id: Mapped[int] = _fk("district.id", index=False)
    day: Mapped[date] = mapped_column(comment="the worker's local day")
    kind: Mapped[str]
    body: Mapped[str] = mapped_column(comment="personal data: what the worker wrote")
    incident_ids: Mapped[list[int]] = mapped_column(ARRAY(Integer), server_default=text("'{}'"))
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = _fk("app_user.id", on_delete="SET NULL", index=False, nullable=True)
    updated_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[int | None] = _fk("app_user.id", on_delete="SET NULL", index=False, nullable=True)
    review_comment: Mapped[str | None]
