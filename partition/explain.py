"""Why a grid stayed off range, in terms a planner can check on the map.

The totals-based explanation (``targets.assess``) covers communities whose counts make
the ranges impossible. Inside feasible communities a grid can still stay off range
because of the units around it; :func:`diagnose_grid` names the concrete obstacle, and
:func:`proof_note` states what the exact search proved when no plan at all can do better.
"""

from __future__ import annotations

from partition.solver import Instance
from partition.targets import Feasibility, Targets

__all__ = ["diagnose_grid", "proof_note"]


def proof_note(units: int, feas: Feasibility, t: Targets) -> str:
    """The sentence for a piece whose totals allow every grid in range but whose units do not.

    Parameters
    ----------
    units
        Atoms of the piece (units, with each compound counted once).
    feas
        What the piece's totals allow (``k_feasible`` is the range of grid counts the
        search covered).
    t
        The ranges.

    Examples
    --------
    >>> from partition.targets import assess
    >>> print(proof_note(4, assess(1000, 2400, Targets()), Targets()))  # doctest: +NORMALIZE_WHITESPACE
    1,000 households and 2,400 residents allow 2 grids, but no division of these 4 units (compounds whole,
    no grid across a hard barrier) into 2 contiguous grids has every grid within 300–500 households and
    1,000–1,500 residents: proved by exhaustive search
    """
    lo, hi = feas.k_feasible  # type: ignore[misc]
    counts = f"{lo}" if lo == hi else f"{lo}–{hi}"
    return (
        f"{feas.households:,} households and {feas.population:,} residents allow {counts} grids, but no division "
        f"of these {units} units (compounds whole, no grid across a hard barrier) into {counts} contiguous grids "
        f"has every grid within {t.h_min:,}–{t.h_max:,} households and {t.p_min:,}–{t.p_max:,} residents: "
        "proved by exhaustive search"
    )


def diagnose_grid(inst: Instance, assignment: list[int], grid: int, t: Targets) -> str:
    """One sentence on why ``grid`` is off range, or ``""`` when it is in range.

    Parameters
    ----------
    inst
        The container's atoms (units or whole compounds) and adjacency.
    assignment
        Grid of each atom.
    grid
        The grid to explain.
    t
        The ranges.

    Examples
    --------
    >>> inst = Instance.from_arrays([280, 320], [700, 900], [1, 1], [4, 4], [0], [1], [1.0], [0])
    >>> print(diagnose_grid(inst, [0, 1], 0, Targets()))  # doctest: +NORMALIZE_WHITESPACE
    its units (280 households, 700 residents) border only units that would push it over a maximum
    (smallest neighbour: 320 households, 900 residents)
    """
    members = [i for i, g in enumerate(assignment) if g == grid]
    h = sum(inst.households[i] for i in members)
    p = sum(inst.population[i] for i in members)
    if t.in_range(h, p):
        return ""
    outside = sorted({j for i in members for j in inst.nbrs[i] if assignment[j] != grid})
    short = h < t.h_min or p < t.p_min
    if short:
        if not outside:
            return (
                f"it is cut off from the rest of its community (by a hard barrier or the community's shape) "
                f"and holds only {h:,} households and {p:,} residents"
            )
        fits = [j for j in outside if h + inst.households[j] <= t.h_max and p + inst.population[j] <= t.p_max]
        if not fits:
            j = min(outside, key=lambda j: (inst.households[j], inst.population[j]))
            return (
                f"its units ({h:,} households, {p:,} residents) border only units that would push it over a "
                f"maximum (smallest neighbour: {inst.households[j]:,} households, {inst.population[j]:,} residents)"
            )
        return (
            f"it holds {h:,} households and {p:,} residents; the neighbouring units that would fit "
            f"({len(fits)}) are needed by grids that would otherwise fall short themselves"
        )
    if len(members) == 1:
        return f"a single indivisible unit or compound of {h:,} households and {p:,} residents"
    populated = [i for i in members if inst.households[i] > 0] or members
    smallest = min(populated, key=lambda i: (inst.households[i], inst.population[i]))
    return (
        f"it holds {h:,} households and {p:,} residents in {len(members)} units; giving any populated one away "
        f"(the smallest has {inst.households[smallest]:,} households) would split it or push a neighbour off range"
    )
