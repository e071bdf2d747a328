"""Community settings for planners: the office phone and service hours residents see.

Reading them is public (they are printed on every poster); changing them needs the
planner role. A community is addressed by its id in the source data or its admin code;
``?district=`` chooses when several districts hold the same id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import Conn
from gis.communities import MAX_HOURS_CHARS, find_community, set_community_settings

__all__ = ["CommunitySettingsChange", "CommunitySettingsOut"]

router = APIRouter(tags=["communities"])

DistrictQuery = Annotated[
    str | None, Query(max_length=200, description="district name; needed only when several hold the community id")
]


class CommunitySettingsOut(BaseModel):
    """A community and what residents are told about its office."""

    model_config = ConfigDict(from_attributes=True)  # read from a stored gis.communities.CommunitySettings

    community_id: str
    admin_code: str | None
    name: str
    district: str
    office_phone: str | None
    service_hours: str | None


class CommunitySettingsChange(BaseModel):
    """Settings to change; fields left out stay, null or "" clears them."""

    model_config = ConfigDict(extra="forbid")

    office_phone: str | None = Field(default=None, max_length=200, examples=["0755-8888 0000"])
    service_hours: str | None = Field(
        default=None, max_length=MAX_HOURS_CHARS * 4, examples=["工作日 8:30–12:00, 14:00–17:30"]
    )


@router.get(
    "/communities/{community}/settings",
    operation_id="community_settings",
    summary="A community's office phone and service hours",
    response_model=CommunitySettingsOut,
)
def community_settings(conn: Conn, community: str, district: DistrictQuery = None) -> CommunitySettingsOut:
    return CommunitySettingsOut.model_validate(find_community(conn, community, district=district))


@router.patch(
    "/communities/{community}/settings",
    operation_id="community_settings_change",
    summary="Change a community's office phone or service hours (planner)",
    response_model=CommunitySettingsOut,
)
def community_settings_change(
    conn: Conn, community: str, body: CommunitySettingsChange, district: DistrictQuery = None
) -> CommunitySettingsOut:
    changes = {k: getattr(body, k) for k in ("office_phone", "service_hours") if k in body.model_fields_set}
    return CommunitySettingsOut.model_validate(set_community_settings(conn, community, district=district, **changes))
