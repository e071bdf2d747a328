"""Re-division benchmark: Taipei nested in villages after population change.

Partitions Taipei's small areas nested in their villages, raises households by 30 % in a
seeded random 10 % of the units (residents likewise), then re-divides with the first plan
as ``previous`` and, beside it, partitions the changed district afresh. Reports per run:
villages whose counts allow every grid in range and how many of them are fully back in
range, grids in range, households that changed grid against the first plan, and time.

Run: ``.venv/bin/python bench/redivide_bench.py [--data FOLDER] [--seed 0]``. Writes
``bench/results/redivide.json`` and ``redivide.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.partition_bench import _read_areas, _read_villages, locate_data
from partition import partition
from partition.targets import Targets, assess

RESULTS = Path(__file__).resolve().parent / "results"
SHARE, FACTOR = 0.10, 1.30


def raised(units, *, seed: int):
    """Households and residents up by 30 % in a seeded random 10 % of the units."""
    rng = np.random.default_rng(seed)
    out = units.copy()
    pick = rng.random(len(out)) < SHARE
    for col in ("households", "population"):
        out.loc[pick, col] = np.round(out.loc[pick, col].to_numpy() * FACTOR).astype(np.int64)
    return out, int(pick.sum())


def households_moved(before, after, units) -> int:
    m = before.merge(after, on="unit_id", suffixes=("_a", "_b")).merge(units[["unit_id", "households"]], on="unit_id")
    return int(m.loc[m.code_a != m.code_b, "households"].sum())


def village_figures(result, engine_feasible: set[str]) -> dict:
    """Villages fully in range among those whose totals allow it, and among those the engine judges
    feasible (totals, plus units too big to share a grid and pieces cut off by hard barriers)."""
    t = Targets()
    per = {c["community_id"]: c for c in result.report["per_community"]}
    by_totals = [cid for cid, c in per.items() if assess(c["households"], c["population"], t).feasible]
    by_engine = [cid for cid in per if cid in engine_feasible]
    return {
        "villages": len(per),
        "feasible_villages": len(by_totals),
        "feasible_villages_all_in_range": sum(per[c]["grids_out_of_range"] == 0 for c in by_totals),
        "engine_feasible_villages": len(by_engine),
        "engine_feasible_villages_all_in_range": sum(per[c]["grids_out_of_range"] == 0 for c in by_engine),
    }


def run(label: str, fn) -> tuple[dict, object]:
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    rep = result.report
    return {
        "run": label,
        "grids": rep["grids"],
        "share_in_range": rep["share_in_range"],
        "share_in_range_where_feasible": rep["share_in_range_where_feasible"],
        "valid": rep["valid"],
        "seconds": round(seconds, 1),
    }, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = locate_data(args.data)
    units = _read_areas(folder)
    villages = _read_villages(folder)
    base_row, base = run(
        "first plan (before the change)", lambda: partition(units, communities=villages, seed=args.seed)
    )
    changed, n_changed = raised(units, seed=args.seed)
    re_row, re = run(
        "re-division (--previous)",
        lambda: partition(changed, communities=villages, seed=args.seed, previous=base.assignment),
    )
    fresh_row, fresh = run("fresh partition", lambda: partition(changed, communities=villages, seed=args.seed))
    total = int(changed["households"].sum())
    # what the engine judges feasible on the changed numbers, from a fresh look at every village
    after = {c["community_id"] for c in fresh.report["per_community"] if c["feasible_by_counts"]}
    before = {c["community_id"] for c in base.report["per_community"] if c["feasible_by_counts"]}
    for row, result in ((re_row, re), (fresh_row, fresh)):
        row["households_moved"] = households_moved(base.assignment, result.assignment, changed)
        row["households_moved_share"] = round(row["households_moved"] / total, 4)
        row.update(village_figures(result, after))
    base_row.update(village_figures(base, before))
    red = re.report["redivision"]
    re_row["grids_kept_changed_created_retired"] = [
        red["grids_kept"],
        red["grids_changed"],
        red["grids_created"],
        red["grids_retired"],
    ]
    targets = {
        "every village the numbers allow back in range (engine's feasibility)": re_row[
            "engine_feasible_villages_all_in_range"
        ]
        == re_row["engine_feasible_villages"],
        "households changing grid <= 15 %": re_row["households_moved_share"] <= 0.15,
    }
    out = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {platform.python_version()}",
        "seed": args.seed,
        "units": len(units),
        "units_raised": n_changed,
        "rows": [base_row, re_row, fresh_row],
        "targets": targets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "redivide.json").write_text(json.dumps(out, indent=2))
    lines = [
        "# Re-division benchmark",
        "",
        f"Run {out['run_at']} on {out['machine']}; seed {args.seed}. Taipei, {len(units):,} small areas in "
        f"{len(villages)} villages; households and residents raised by 30 % in {n_changed:,} units (10 %).",
        "",
        "| run | grids | in range | where counts allow | villages all in range: feasible by totals "
        "| feasible by the engine's test | households moved | valid | time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["rows"]:
        moved = f"{r['households_moved']:,} ({r['households_moved_share']:.1%})" if "households_moved" in r else "–"
        lines.append(
            f"| {r['run']} | {r['grids']:,} | {r['share_in_range']:.1%} | {r['share_in_range_where_feasible']:.1%} "
            f"| {r['feasible_villages_all_in_range']} of {r['feasible_villages']} "
            f"| {r['engine_feasible_villages_all_in_range']} of {r['engine_feasible_villages']} "
            f"| {moved} | {r['valid']} | {r['seconds']} s |"
        )
    k, c, n, rt = re_row["grids_kept_changed_created_retired"]
    lines += ["", f"Re-division kept {k} grids, changed {c}, created {n}, retired {rt}.", ""]
    lines += [f"- {name}: {'met' if ok else 'missed'}" for name, ok in targets.items()]
    (RESULTS / "redivide.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
