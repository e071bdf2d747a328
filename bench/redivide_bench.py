"""Re-division benchmark: Taipei nested in villages after population change.

Partitions Taipei's small areas nested in their villages, raises households by 30 % in a
seeded random 10 % of the units (residents likewise), then re-divides with the first plan
as ``previous`` and, beside it, partitions the changed district afresh. Reports per run:
grids in range, households that changed grid against the first plan, time, and the
villages, counted four ways:

- *feasible by totals*: the village's household and resident totals allow some grid
  count with every grid in range (``partition.targets.assess`` on the totals);
- *feasible by the engine's count test*: the same for each connected piece of the
  village (pieces cut off by hard barriers), with units over half a maximum each needing
  a grid of their own (the fresh run's ``feasible_by_counts`` on the changed numbers);
- *proved impossible*: of those, villages for which the exact search proved, by
  exhaustive search, that no division of their units (compounds whole, contiguous grids)
  has every grid in range (on the changed numbers, in the re-division or the fresh run;
  a proof holds for both since the units and counts are the same);
- *a plan exists*: feasible by the engine's test and not proved impossible. These are
  the villages the target asks to be all in range; any left off range are *still off*
  (the exact search ran out of time on them, or a piece was over its size limit).

Run: ``.venv/bin/python bench/redivide_bench.py [--data FOLDER] [--seed 0] [--note TEXT]``.
Writes ``bench/results/redivide.json`` and ``redivide.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.partition_bench import _read_areas, _read_villages, locate_data
from partition import partition
from partition.exact import EXACT_SECONDS
from partition.targets import Targets, assess

RESULTS = Path(__file__).resolve().parent / "results"
SHARE, FACTOR = 0.10, 1.30
MOVED_TARGET = 0.15


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


def proved(result) -> set[str]:
    """Villages with a piece the exact search proved cannot have every grid in range."""
    return {c["community_id"] for c in result.report["per_community"] if c.get("proved_infeasible")}


def village_figures(result, engine_feasible: set[str], impossible: set[str]) -> dict:
    """Villages fully in range, among those feasible by totals, by the engine's count test, and where a plan exists."""
    t = Targets()
    per = {c["community_id"]: c for c in result.report["per_community"]}
    by_totals = [cid for cid, c in per.items() if assess(c["households"], c["population"], t).feasible]
    by_engine = [cid for cid in per if cid in engine_feasible]
    possible = [cid for cid in by_engine if cid not in impossible]
    still_off = sorted(cid for cid in possible if per[cid]["grids_out_of_range"])
    return {
        "villages": len(per),
        "feasible_villages": len(by_totals),
        "feasible_villages_all_in_range": sum(per[c]["grids_out_of_range"] == 0 for c in by_totals),
        "engine_feasible_villages": len(by_engine),
        "engine_feasible_villages_all_in_range": sum(per[c]["grids_out_of_range"] == 0 for c in by_engine),
        "proved_impossible": len([c for c in by_engine if c in impossible]),
        "proved_in_this_run": len([c for c in by_engine if per[c].get("proved_infeasible")]),
        "possible_villages": len(possible),
        "possible_villages_all_in_range": len(possible) - len(still_off),
        "still_off": still_off,
        "still_off_why": {c: per[c]["explanation"] for c in still_off},
        "exact_work": result.report.get("exact_work", 0.0),
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
    parser.add_argument("--note", default="", help="a line on the conditions of the run, written under the header")
    args = parser.parse_args()
    folder = locate_data(args.data)
    load = [round(x, 2) for x in os.getloadavg()]
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
    impossible_after = proved(re) | proved(fresh)
    for row, result in ((re_row, re), (fresh_row, fresh)):
        row["households_moved"] = households_moved(base.assignment, result.assignment, changed)
        row["households_moved_share"] = round(row["households_moved"] / total, 4)
        row.update(village_figures(result, after, impossible_after))
    base_row.update(village_figures(base, before, proved(base)))
    red = re.report["redivision"]
    re_row["grids_kept_changed_created_retired"] = [
        red["grids_kept"],
        red["grids_changed"],
        red["grids_created"],
        red["grids_retired"],
    ]
    targets = {
        "every village where a plan exists back in range (re-division)": not re_row["still_off"],
        f"households changing grid <= {MOVED_TARGET:.0%} (re-division)": re_row["households_moved_share"]
        <= MOVED_TARGET,
    }
    out = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load_average_at_start": load,
        "note": args.note,
        "ortools": version("ortools"),
        "exact_seconds": EXACT_SECONDS,
        "seed": args.seed,
        "units": len(units),
        "units_raised": n_changed,
        "rows": [base_row, re_row, fresh_row],
        "targets": targets,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "redivide.json").write_text(json.dumps(out, indent=2, ensure_ascii=False))
    (RESULTS / "redivide.md").write_text(to_markdown(out, len(villages)) + "\n")
    print(to_markdown(out, len(villages)))


def to_markdown(out: dict, n_villages: int) -> str:
    """The results as Markdown: conditions, definitions, one line per run, the still-off villages, targets."""
    rows = out["rows"]
    lines = [
        "# Re-division benchmark",
        "",
        f"Run {out['run_at']} on {out['machine']}; seed {out['seed']}; OR-Tools {out['ortools']}, exact search "
        f"up to {out['exact_seconds']:g} work units a village. Load average at the start "
        f"{', '.join(map(str, out['load_average_at_start']))}." + (f" {out['note']}" if out["note"] else ""),
        "",
        f"Taipei, {out['units']:,} small areas in {n_villages} villages; households and residents raised by 30 % "
        f"in {out['units_raised']:,} units (10 %).",
        "",
        "Villages, counted four ways (each cell: villages with every grid in range / villages of that kind):",
        "",
        "- *by totals*: the village's totals allow a grid count with every grid in range;",
        "- *by the engine's test*: the same for each connected piece of the village, units over half a "
        "maximum each needing their own grid (the fresh run's verdict on the same numbers);",
        "- *proved impossible*: of those, villages where the exact search proved by exhaustive search that no "
        "division of the units (compounds whole, contiguous grids) has every grid in range — on the changed "
        "numbers, in either the re-division or the fresh run (in brackets: proved in this run);",
        "- *a plan exists*: by the engine's test and not proved impossible; the target's villages. "
        "*Still off*: those left with a grid off range (the exact search ran out of time, or a piece was "
        "over its size limit).",
        "",
        "| run | grids | in range | where counts allow | by totals | by the engine's test | proved impossible "
        "| a plan exists | still off | households moved | valid | exact work | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        moved = f"{r['households_moved']:,} ({r['households_moved_share']:.1%})" if "households_moved" in r else "–"
        lines.append(
            f"| {r['run']} | {r['grids']:,} | {r['share_in_range']:.1%} | {r['share_in_range_where_feasible']:.1%} "
            f"| {r['feasible_villages_all_in_range']} / {r['feasible_villages']} "
            f"| {r['engine_feasible_villages_all_in_range']} / {r['engine_feasible_villages']} "
            f"| {r['proved_impossible']} ({r['proved_in_this_run']}) "
            f"| {r['possible_villages_all_in_range']} / {r['possible_villages']} | {len(r['still_off'])} "
            f"| {moved} | {r['valid']} | {r['exact_work']:.1f} | {r['seconds']} s |"
        )
    k, c, n, rt = rows[1]["grids_kept_changed_created_retired"]
    lines += ["", f"Re-division kept {k} grids, changed {c}, created {n}, retired {rt}.", ""]
    still = [f"- still off in *{r['run']}*: {cid}: {why}" for r in rows for cid, why in r["still_off_why"].items()]
    lines += [*still, ""] if still else []
    lines += [f"- {name}: {'met' if ok else 'missed'}" for name, ok in out["targets"].items()]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
