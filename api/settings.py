"""commgrid's settings: one class, read once at the edge, passed down as values.

Every field can be set from the environment with the ``COMMGRID_`` prefix, e.g.
``COMMGRID_DATABASE_URL`` or ``COMMGRID_HOME``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gis.cluster import default_home

__all__ = ["DepartmentSetting", "Settings"]

# shipped departments for coordinated incidents; a city names its own (incident_departments)
_DEPARTMENTS = (
    ("urban_management", "城管局 Urban management"),
    ("housing", "住建局 Housing and construction"),
    ("fire", "消防救援大队 Fire and rescue"),
    ("police", "派出所 Police station"),
    ("market", "市场监管所 Market regulation"),
    ("sanitation", "环卫所 Sanitation"),
    ("utilities", "水电气公司 Water, power and gas"),
)


class DepartmentSetting(BaseModel):
    """One department of the list: a short id (letters, digits, _ and -) and its name."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    name: str = Field(min_length=1, max_length=200)


class Settings(BaseSettings):
    """Where data lives, which database to use, and how the service answers."""

    model_config = SettingsConfigDict(env_prefix="COMMGRID_", extra="ignore")

    home: Path = Field(
        default_factory=default_home,
        description="Folder of the embedded PostGIS cluster and other state (default ~/.local/share/commgrid).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of an existing PostGIS database; empty for the embedded cluster.",
    )
    host: str = Field(default="127.0.0.1", description="Interface the web service listens on.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port the web service listens on.")
    items_limit: int = Field(default=1000, ge=1, description="Default page size of feature collections.")
    items_limit_max: int = Field(default=10000, ge=1, description="Largest page size a client may ask for.")
    pool_size: int = Field(default=10, ge=1, description="Most async connections (tiles, tokens) per worker process.")
    pool_timeout: float = Field(
        default=10,
        gt=0,
        description="Seconds a request waits for an async connection before it is answered 503 (database down).",
    )
    max_renders: int = Field(
        default=4,
        ge=1,
        description="Most different posters and cards drawn at once per worker process (503 with Retry-After beyond).",
    )
    render_cache_mb: int = Field(default=128, ge=1, description="Memory for drawn posters and cards per worker, MiB.")
    tile_cache_mb: int = Field(default=256, ge=0, description="Memory for cached tiles per worker process, in MiB.")
    tile_max_features: int = Field(
        default=10000, ge=1, description="Most features of a point layer (incidents) in one tile."
    )
    public_url: str | None = Field(
        default=None,
        description="Address residents reach the service at, e.g. https://grid.example.org: the base of every "
        "printed link and QR code (posters, cards, the public export); unset: the address of the request "
        "(or, for commands, the local service, which phones cannot reach).",
    )
    basemap_url: str | None = Field(
        default=None,
        description="Optional XYZ raster basemap for the web map, e.g. https://tile.example.org/{z}/{x}/{y}.png.",
    )
    basemap_attribution: str = Field(default="", description="Attribution shown for the basemap.")
    patrol_retention_days: float = Field(
        default=180, gt=0, description="Patrol tracks older than this are purged (compliance results are kept)."
    )
    patrol_purge_hours: float = Field(default=24, gt=0, description="How often the service purges old tracks.")
    incident_taxonomy: Path | None = Field(default=None, description="JSON file of a custom incident taxonomy.")
    incident_calendar: Path | None = Field(
        default=None, description="JSON working calendar (holidays, make-up days) for incident time limits."
    )
    incident_public_min_count: int = Field(
        default=3, ge=1, description="Public views show only bins and grids holding at least this many incidents."
    )
    incident_public_delay_hours: float = Field(
        default=24, ge=0, description="Incidents reach public views only this long after they were reported."
    )
    incident_duplicate_metres: float = Field(default=50, ge=0, description="Near-duplicate search radius.")
    incident_duplicate_hours: float = Field(default=24, ge=0, description="Near-duplicate search window.")
    incident_departments: list[DepartmentSetting] = Field(
        default_factory=lambda: [DepartmentSetting(id=i, name=n) for i, n in _DEPARTMENTS],
        description="Departments coordinated incidents are handed to, as JSON: "
        '[{"id": "housing", "name": "住建局 Housing"}, ...]; ids are what the API takes.',
    )
    emergency_webhook_url: str | None = Field(
        default=None, description="Emergencies are POSTed as JSON to this http(s) address at once; unset: none."
    )
    emergency_email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="E-mail addresses emergencies are sent to (comma-separated), through smtp_host.",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server for emergency e-mail; unset: no e-mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_from: str | None = Field(default=None, description="Sender address of emergency e-mail.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_user: str | None = Field(default=None, description="SMTP login, if the server asks for one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password for smtp_user.")
    notify_timeout: float = Field(
        default=10, gt=0, description="Seconds one webhook or SMTP delivery may take before it counts as failed."
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=0,
        description="Largest request body in bytes (413 beyond it); 0 turns the limit off.",
    )
    max_upload_bytes: int = Field(
        default=64 << 20,
        ge=0,
        description="Largest body of the routes taking files (patrol tracks, worker and incident photos); 0: no limit.",
    )
    rate_limit_per_second: float = Field(
        default=50,
        ge=0,
        description="Requests per second each client address may make without a token (429 beyond); 0: no limit.",
    )
    rate_limit_burst: int = Field(
        default=1000, ge=1, description="Requests a client address may make at once before the rate applies."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser, comma-separated ('*' for any); "
        "none by default.",
    )
    cors_methods: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["GET", "HEAD", "POST", "PATCH", "DELETE"],
        description="HTTP methods allowed to those origins, comma-separated.",
    )
    cors_max_age: int = Field(default=600, ge=0, description="Seconds browsers may cache a CORS preflight answer.")
    now: datetime | None = Field(
        default=None,
        description="Set the service's calendar clock to this instant (ISO 8601 with a time zone), for tests, "
        "demos and replays; unset: the real clock.",
    )
    now_since: float | None = Field(
        default=None,
        description="The real Unix time at which `now` held: the set clock runs on from `now` at the real rate; "
        "unset: it stands still.",
    )

    @field_validator("now")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a time zone, e.g. 2026-05-20T20:30:00+00:00")
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ValueError("must be an http(s) address without query or fragment, e.g. https://grid.example.org")
        return value.strip().rstrip("/")

    @field_validator("emergency_webhook_url")
    @classmethod
    def _webhook(cls, value: str | None) -> str | None:
        if not value:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) address, e.g. https://alerts.example.org/hook")
        return value.strip()

    @field_validator("incident_departments")
    @classmethod
    def _unique_departments(cls, value: list[DepartmentSetting]) -> list[DepartmentSetting]:
        ids = [d.id for d in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"department ids must be unique; {twice} appear more than once")
        return value

    @field_validator("cors_origins", "cors_methods", "emergency_email_to", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        # "a,b" from the environment, or a JSON list (what `commgrid serve --workers` passes on)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value
