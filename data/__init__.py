"""Synthetic sample data: a deterministic city district for the demo and fast tests."""

from data.sample import (
    HOUSEHOLD_SIZE_SHARES,
    HOUSEHOLD_SIZES,
    INCIDENT_CATEGORIES,
    SampleDistrict,
    generate_district,
    write_district,
)

__all__ = [
    "HOUSEHOLD_SIZES",
    "HOUSEHOLD_SIZE_SHARES",
    "INCIDENT_CATEGORIES",
    "SampleDistrict",
    "generate_district",
    "write_district",
]
