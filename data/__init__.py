"""Synthetic sample data: a deterministic city district for the demo and fast tests (:mod:`data.sample`)."""

from data.sample import HOUSEHOLD_SIZE_SHARES as HOUSEHOLD_SIZE_SHARES
from data.sample import HOUSEHOLD_SIZES as HOUSEHOLD_SIZES
from data.sample import INCIDENT_CATEGORIES as INCIDENT_CATEGORIES
from data.sample import SampleDistrict as SampleDistrict
from data.sample import generate_district as generate_district
from data.sample import write_district as write_district
