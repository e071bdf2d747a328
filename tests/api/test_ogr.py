"""GDAL's OGC API – Features driver reads the service like any OAPIF server."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

OGRINFO = shutil.which("ogrinfo")
pytestmark = pytest.mark.skipif(OGRINFO is None, reason="gdal-bin is not installed (scripts/setup.sh test installs it)")


def test_ogrinfo_lists_the_public_collections(live_url):
    out = subprocess.run([OGRINFO, "-ro", "-so", f"OAPIF:{live_url}"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "grids" in out.stdout and "communities" in out.stdout
    assert "units" not in out.stdout  # not for the public


def test_ogr2ogr_reads_every_grid(live_url, tmp_path, sample_plan):
    dest = tmp_path / "grids.geojson"
    out = subprocess.run(
        [shutil.which("ogr2ogr"), "-f", "GeoJSON", str(dest), f"OAPIF:{live_url}", "grids"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    features = json.loads(dest.read_text())["features"]
    assert len(features) == sample_plan.report["grids"]
    assert len({f["properties"]["code"] for f in features}) == len(features)
