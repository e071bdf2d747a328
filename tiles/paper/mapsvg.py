"""A printed map of one grid, drawn as SVG from commgrid's own data.

Everything is in a metric CRS (the district's working CRS), so distances on paper are
true and the scale bar is honest. Geometries are clipped to the view in Python rather
than with SVG clip paths: outlines of polygons cut by the frame are drawn from their
clipped *boundaries*, so no false edge runs along the frame.

Drawn, bottom to top: units (parcels or address points; the grid's own darker), rivers
and streets where the store holds them, neighbouring grids as faint dashed outlines
with their codes, the grid (tinted, with a bold outline and its code), street names,
then the legend, a north arrow and a scale bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from tiles.paper.printing import FONT_FAMILY, escape

__all__ = ["ACCENT", "GridMap", "Street", "grid_map_svg", "nice_length", "view_box"]

ACCENT = "#c62828"  # the grid's outline; posters use the same red for their header
_PAPER = "#f4f2ec"
_UNIT = "#e2ddd2"
_UNIT_INSIDE = "#f1cdbf"
_NEIGHBOUR = "#7d7d7d"
_WATER = "#8fb8de"
_INK = "#333333"
_RIVER_CLASSES = frozenset({"river", "canal", "stream", "water", "waterway"})
_RAIL_CLASSES = frozenset({"railway", "rail"})
_MAJOR_CLASSES = frozenset({"major", "primary", "trunk", "expressway", "motorway", "arterial", "secondary"})


@dataclass(frozen=True)
class Street:
    """A street, river or railway line (or area) as the store's barriers hold it."""

    kind: str  # the barrier class: major, minor, river, railway ...
    name: str | None
    geom: BaseGeometry


@dataclass(frozen=True)
class GridMap:
    """What the map of one grid shows; every geometry in the same metric CRS (metres).

    Attributes
    ----------
    code
        The grid's code.
    grid
        The grid's polygon.
    view
        ``(minx, miny, maxx, maxy)`` shown, with the map box's aspect (see :func:`view_box`).
    neighbours
        ``(code, polygon)`` of the plan's other grids in view.
    units
        Unit geometries in view (polygons or points).
    units_inside
        Per unit, whether it belongs to the grid.
    streets
        Streets, rivers and railways in view; empty when the store holds none.
    unit_metres
        Metres on the ground per unit of the CRS at the view's centre (1 in a true metric
        CRS; less in Web Mercator away from the equator), so the scale bar stays honest.
    """

    code: str
    grid: BaseGeometry
    view: tuple[float, float, float, float]
    neighbours: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    units: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    units_inside: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))
    streets: list[Street] = field(default_factory=list)
    unit_metres: float = 1.0


def view_box(grid: BaseGeometry, *, aspect: float, margin: float = 0.14) -> tuple[float, float, float, float]:
    """The window around ``grid`` with width/height ``aspect``, leaving ``margin`` of its size around it.

    Examples
    --------
    >>> view_box(shapely.box(0, 0, 100, 50), aspect=1.0, margin=0.0)
    (0.0, -25.0, 100.0, 75.0)
    """
    minx, miny, maxx, maxy = grid.bounds
    width, height = (maxx - minx) * (1 + 2 * margin), (maxy - miny) * (1 + 2 * margin)
    width, height = max(width, height * aspect, 1.0), max(height, width / aspect, 1.0)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)


def nice_length(metres: float) -> float:
    """The largest 1, 2 or 5 × 10ⁿ metres not above ``metres``.

    Examples
    --------
    >>> nice_length(730), nice_length(0.3)
    (500.0, 0.2)
    """
    power = 10.0 ** math.floor(math.log10(metres))
    return max(step * power for step in (1, 2, 5) if step * power <= metres)


def grid_map_svg(data: GridMap, *, width_mm: float, height_mm: float, scale: float = 1.0) -> str:
    """The map as an SVG document of ``width_mm`` × ``height_mm``.

    Parameters
    ----------
    data
        What to draw.
    width_mm, height_mm
        The map box on paper; its aspect should match ``data.view``.
    scale
        Multiplies line widths and type sizes (1 for A3, about 0.71 for A4).
    """
    minx, miny, maxx, maxy = data.view
    k = min(width_mm / (maxx - minx), height_mm / (maxy - miny))  # mm of paper per metre
    # centre the view in the box whatever rounding left over
    ox = (width_mm - (maxx - minx) * k) / 2
    oy = (height_mm - (maxy - miny) * k) / 2

    def to_mm(coords: np.ndarray) -> np.ndarray:
        return np.column_stack([ox + (coords[:, 0] - minx) * k, oy + (maxy - coords[:, 1]) * k])

    def paper(geoms: np.ndarray | list) -> np.ndarray:
        # clip to the view, move to paper millimetres, drop detail finer than a pen
        clipped = shapely.clip_by_rect(np.asarray(geoms, dtype=object), minx, miny, maxx, maxy)
        moved = shapely.transform(clipped, to_mm)
        return shapely.simplify(moved, 0.12)

    s = scale
    parts: list[str] = [f'<rect x="0" y="0" width="{width_mm:.2f}" height="{height_mm:.2f}" fill="{_PAPER}"/>']

    # units: parcels or address points
    if len(data.units):
        units = paper(data.units)
        for inside, colour in ((False, _UNIT), (True, _UNIT_INSIDE)):
            chosen = units[np.asarray(data.units_inside, dtype=bool) == inside]
            areas = [g for g in chosen if not g.is_empty and g.geom_type in ("Polygon", "MultiPolygon")]
            dots = [g for g in chosen if not g.is_empty and g.geom_type in ("Point", "MultiPoint")]
            if areas:
                parts.append(
                    f'<path d="{_path(areas)}" fill="{colour}" fill-rule="evenodd" stroke="#ffffff" '
                    f'stroke-width="{0.25 * s:.2f}"/>'
                )
            for dot in dots:
                for x, y in shapely.get_coordinates(dot):
                    parts.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="{0.9 * s:.2f}" fill="{colour}" stroke="#fff"/>')

    # rivers, railways, streets (casing under fill, so crossings merge)
    streets = _streets(data.streets, paper)
    for kind, geoms in streets.items():
        d = _path(geoms)
        if kind == "river":
            parts.append(_stroke(d, _WATER, 2.6 * s))
        elif kind == "rail":
            parts.append(_stroke(d, "#555555", 1.0 * s))
            parts.append(_stroke(d, "#ffffff", 0.6 * s, dash=f"{2.5 * s:.2f} {2.5 * s:.2f}"))
    for kind, width in (("major", 2.8), ("minor", 1.6)):
        if kind in streets:
            parts.append(_stroke(_path(streets[kind]), "#b9b3a6", (width + 0.6) * s))
    for kind, width in (("minor", 1.6), ("major", 2.8)):
        if kind in streets:
            parts.append(_stroke(_path(streets[kind]), "#ffffff", width * s))

    # the grid's fill, the neighbours' outlines, the grid's outline
    grid = paper([data.grid])[0]
    if not grid.is_empty:
        parts.append(f'<path d="{_path([grid])}" fill="{ACCENT}" fill-opacity="0.10" fill-rule="evenodd"/>')
    if data.neighbours:
        outlines = paper([g.boundary for _, g in data.neighbours])
        parts.append(
            _stroke(_path(list(outlines)), _NEIGHBOUR, 0.45 * s, dash=f"{1.8 * s:.2f} {1.0 * s:.2f}", opacity=0.9)
        )
    outline = paper([data.grid.boundary])[0]
    parts.append(_stroke(_path([outline]), "#ffffff", 2.2 * s))
    parts.append(_stroke(_path([outline]), ACCENT, 1.2 * s))

    # labels: streets, neighbours, the grid
    labels = _Labels()
    box = (6 * s, 6 * s, width_mm - 6 * s, height_mm - 6 * s)
    furniture: list[str] = []
    for pieces, area in (
        _legend(streets, height_mm, s, has_units=bool(len(data.units))),
        _north_arrow(width_mm, s),
        _scale_bar(width_mm, height_mm, k / data.unit_metres, s),
    ):
        furniture.extend(pieces)
        labels.taken.append(area)  # labels keep clear of the legend, arrow and scale bar
    if not outline.is_empty:
        labels.taken.append(outline.buffer(1.2 * s))  # no label over the grid's outline
    if not grid.is_empty:
        spot = shapely.get_coordinates(shapely.point_on_surface(grid))[0]
        parts.append(_label(data.code, spot, 7.0 * s, ACCENT, bold=True, halo=1.4 * s))
        labels.taken.append(_label_box(data.code, spot, 7.0 * s))
    for code, geom in data.neighbours:
        piece = paper([geom])[0]
        if piece.is_empty or piece.area < (12 * s) ** 2:  # too little in view to carry a label
            continue
        spot = shapely.get_coordinates(shapely.point_on_surface(piece))[0]
        size = 4.2 * s
        if labels.free(_label_box(code, spot, size), box):
            parts.append(_label(code, spot, size, _NEIGHBOUR, bold=True, halo=1.0 * s))
    parts.extend(_street_labels(data.streets, paper, labels, box, s))
    parts.extend(furniture)
    parts.append(
        f'<rect x="0" y="0" width="{width_mm:.2f}" height="{height_mm:.2f}" fill="none" stroke="{_INK}" '
        f'stroke-width="{0.5 * s:.2f}"/>'
    )
    body = "\n".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:.2f}mm" height="{height_mm:.2f}mm" '
        f'viewBox="0 0 {width_mm:.2f} {height_mm:.2f}" font-family="{FONT_FAMILY}">\n{body}\n</svg>'
    )


# -- pieces -------------------------------------------------------------------------------------


def _street_kind(kind: str) -> str:
    kind = (kind or "").lower()
    if kind in _RIVER_CLASSES:
        return "river"
    if kind in _RAIL_CLASSES:
        return "rail"
    return "major" if kind in _MAJOR_CLASSES else "minor"


def _streets(streets: list[Street], paper) -> dict[str, list[BaseGeometry]]:
    out: dict[str, list[BaseGeometry]] = {}
    if not streets:
        return out
    geoms = paper([st.geom for st in streets])
    for st, geom in zip(streets, geoms, strict=True):
        if not geom.is_empty:
            out.setdefault(_street_kind(st.kind), []).append(geom)
    return out


class _Labels:
    """Boxes already holding a label, so labels never overprint."""

    def __init__(self) -> None:
        self.taken: list[BaseGeometry] = []

    def free(self, box: BaseGeometry, frame: tuple[float, float, float, float]) -> bool:
        if not shapely.box(*frame).contains(box) or any(box.intersects(t) for t in self.taken):
            return False
        self.taken.append(box)
        return True


def _text_width(text: str, size: float) -> float:
    return sum(1.0 if ord(ch) > 0x2E7F else 0.6 for ch in text) * size


def _label_box(text: str, at: np.ndarray, size: float, angle: float = 0.0) -> BaseGeometry:
    half_w, half_h = _text_width(text, size) / 2 + size * 0.3, size * 0.7
    box = shapely.box(at[0] - half_w, at[1] - half_h, at[0] + half_w, at[1] + half_h)
    if angle:
        from shapely import affinity

        box = affinity.rotate(box, angle, origin=(at[0], at[1]))
    return box


def _label(
    text: str, at: np.ndarray, size: float, colour: str, *, bold: bool = False, halo: float = 0.8, angle: float = 0.0
) -> str:
    x, y = at
    weight = ' font-weight="bold"' if bold else ""
    turn = f' transform="rotate({angle:.1f} {x:.2f} {y:.2f})"' if angle else ""
    # the baseline sits a third of an em below the anchor, which centres CJK and Latin alike
    common = f'x="{x:.2f}" y="{y + size * 0.36:.2f}" font-size="{size:.2f}" text-anchor="middle"{weight}{turn}'
    content = escape(text)
    return (
        f'<text {common} fill="#ffffff" stroke="#ffffff" stroke-width="{halo:.2f}" stroke-linejoin="round">'
        f'{content}</text><text {common} fill="{colour}">{content}</text>'
    )


def _column_box(text: str, at: np.ndarray, size: float) -> BaseGeometry:
    half_w, half_h = size * 0.7, len(text) * size * 0.525 + size * 0.3
    return shapely.box(at[0] - half_w, at[1] - half_h, at[0] + half_w, at[1] + half_h)


def _column_label(text: str, at: np.ndarray, size: float, colour: str, *, halo: float) -> list[str]:
    step = size * 1.05
    top = at[1] - step * (len(text) - 1) / 2
    return [_label(ch, np.array([at[0], top + i * step]), size, colour, halo=halo) for i, ch in enumerate(text)]


def _street_labels(streets: list[Street], paper, labels: _Labels, frame, s: float) -> list[str]:
    by_name: dict[tuple[str, str], list[BaseGeometry]] = {}
    for st in streets:
        if st.name:
            by_name.setdefault((st.name, _street_kind(st.kind)), []).append(st.geom)
    out = []
    for (name, kind), geoms in sorted(by_name.items(), key=lambda item: item[0][1] != "major"):
        merged = shapely.line_merge(shapely.union_all(paper(geoms)))
        pieces = [g for g in getattr(merged, "geoms", [merged]) if g.geom_type == "LineString"]
        if not pieces:
            continue
        line = max(pieces, key=lambda g: g.length)
        size = (4.6 if kind in ("major", "river") else 4.0) * s
        if line.length < _text_width(name, size) * 1.3:
            continue
        placed = False
        for fraction in (0.5, 0.3, 0.7):
            at = np.array(line.interpolate(fraction, normalized=True).coords[0])
            a = np.array(line.interpolate(max(0.0, fraction - 0.03), normalized=True).coords[0])
            b = np.array(line.interpolate(min(1.0, fraction + 0.03), normalized=True).coords[0])
            angle = math.degrees(math.atan2(b[1] - a[1], b[0] - a[0]))
            angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle  # never upside down
            normal = np.array([-math.sin(math.radians(angle)), math.cos(math.radians(angle))])
            # Chinese names of steep streets read top to bottom, characters upright, as on Chinese maps
            upright = abs(angle) > 60 and all(ord(ch) > 0x2E7F for ch in name)
            if upright:
                normal = np.array([1.0, 0.0])
            # on the street, else beside it: streets often run along the grid's outline
            for shift in (0.0, size * 1.15, -size * 1.15):
                spot = at + normal * shift
                box = _column_box(name, spot, size) if upright else _label_box(name, spot, size, angle)
                if labels.free(box, frame):
                    colour = "#2f5f8f" if kind == "river" else "#555555"
                    if upright:
                        out.extend(_column_label(name, spot, size, colour, halo=0.9 * s))
                    else:
                        out.append(_label(name, spot, size, colour, halo=0.9 * s, angle=angle))
                    placed = True
                    break
            if placed:
                break
    return out


def _legend(streets: dict, height_mm: float, s: float, *, has_units: bool) -> tuple[list[str], BaseGeometry]:
    rows = [("grid", "本网格 this grid"), ("neighbour", "相邻网格 neighbouring grid")]
    if has_units:
        rows.append(("unit", "住宅单元 residential unit"))
    if "major" in streets or "minor" in streets:
        rows.append(("street", "道路 street"))
    if "river" in streets:
        rows.append(("river", "河流 river"))
    if "rail" in streets:
        rows.append(("rail", "铁路 railway"))
    size, gap, pad = 3.2 * s, 5.6 * s, 3.0 * s
    width = 58 * s
    height = pad * 2 + gap * len(rows) - (gap - size)
    x0, y0 = 5 * s, height_mm - 5 * s - height
    out = [
        f'<rect x="{x0:.2f}" y="{y0:.2f}" width="{width:.2f}" height="{height:.2f}" rx="{1.2 * s:.2f}" '
        f'fill="#ffffff" fill-opacity="0.92" stroke="#bbbbbb" stroke-width="{0.25 * s:.2f}"/>'
    ]
    for i, (kind, text) in enumerate(rows):
        x, y = x0 + pad, y0 + pad + i * gap
        sw, sh = 7 * s, size
        mid = y + sh / 2
        if kind == "grid":
            out.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{sw:.2f}" height="{sh:.2f}" fill="{ACCENT}" fill-opacity="0.12" '
                f'stroke="{ACCENT}" stroke-width="{0.9 * s:.2f}"/>'
            )
        elif kind == "neighbour":
            out.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{sw:.2f}" height="{sh:.2f}" fill="none" stroke="{_NEIGHBOUR}" '
                f'stroke-width="{0.45 * s:.2f}" stroke-dasharray="{1.8 * s:.2f} {1.0 * s:.2f}"/>'
            )
        elif kind == "unit":
            out.append(
                f'<rect x="{x:.2f}" y="{y:.2f}" width="{sw / 2 - 0.3 * s:.2f}" height="{sh:.2f}" '
                f'fill="{_UNIT_INSIDE}"/>'
                f'<rect x="{x + sw / 2 + 0.3 * s:.2f}" y="{y:.2f}" width="{sw / 2 - 0.3 * s:.2f}" height="{sh:.2f}" '
                f'fill="{_UNIT}"/>'
            )
        elif kind == "street":
            d = f"M{x:.2f} {mid:.2f}H{x + sw:.2f}"
            out.append(_stroke(d, "#b9b3a6", 2.2 * s) + _stroke(d, "#ffffff", 1.6 * s))
        elif kind == "river":
            out.append(_stroke(f"M{x:.2f} {mid:.2f}H{x + sw:.2f}", _WATER, 2.2 * s))
        else:
            d = f"M{x:.2f} {mid:.2f}H{x + sw:.2f}"
            out.append(_stroke(d, "#555555", 1.0 * s) + _stroke(d, "#ffffff", 0.6 * s, dash=f"{1.2 * s:.2f}"))
        out.append(
            f'<text x="{x + sw + 2.2 * s:.2f}" y="{mid + size * 0.36:.2f}" font-size="{size:.2f}" '
            f'fill="{_INK}">{escape(text)}</text>'
        )
    return out, shapely.box(x0, y0, x0 + width, y0 + height)


def _north_arrow(width_mm: float, s: float) -> tuple[list[str], BaseGeometry]:
    cx, top, h, w = width_mm - 11 * s, 6 * s, 14 * s, 4.2 * s
    area = shapely.Point(cx, top + h * 0.55).buffer(h * 0.62)
    return [
        f'<circle cx="{cx:.2f}" cy="{top + h * 0.55:.2f}" r="{h * 0.62:.2f}" fill="#ffffff" fill-opacity="0.85"/>',
        f'<path d="M{cx:.2f} {top + 3 * s:.2f} L{cx + w:.2f} {top + h:.2f} L{cx:.2f} {top + h * 0.78:.2f} Z" '
        f'fill="{_INK}"/>',
        f'<path d="M{cx:.2f} {top + 3 * s:.2f} L{cx - w:.2f} {top + h:.2f} L{cx:.2f} {top + h * 0.78:.2f} Z" '
        f'fill="#ffffff" stroke="{_INK}" stroke-width="{0.3 * s:.2f}"/>',
        f'<text x="{cx:.2f}" y="{top + 2.2 * s:.2f}" font-size="{3.4 * s:.2f}" font-weight="bold" '
        f'text-anchor="middle" fill="{_INK}">N 北</text>',
    ], area


def _scale_bar(width_mm: float, height_mm: float, k: float, s: float) -> tuple[list[str], BaseGeometry]:
    metres = nice_length(width_mm * 0.25 / k)
    length = metres * k
    x1 = width_mm - 7 * s
    x0 = x1 - length
    y = height_mm - 8 * s
    bar = 1.6 * s
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"
    half = f"{metres / 2000:g}" if metres >= 1000 else f"{metres / 2:g}"
    size = 3.0 * s
    area = shapely.box(x0 - 3 * s, y - 7.5 * s, x0 + length + 7 * s, y + 3.5 * s)
    return [
        f'<rect x="{x0 - 3 * s:.2f}" y="{y - 7.5 * s:.2f}" width="{length + 10 * s:.2f}" height="{11 * s:.2f}" '
        f'rx="{1.2 * s:.2f}" fill="#ffffff" fill-opacity="0.88"/>',
        f'<rect x="{x0:.2f}" y="{y:.2f}" width="{length / 2:.2f}" height="{bar:.2f}" fill="{_INK}"/>',
        f'<rect x="{x0 + length / 2:.2f}" y="{y:.2f}" width="{length / 2:.2f}" height="{bar:.2f}" fill="#ffffff" '
        f'stroke="{_INK}" stroke-width="{0.3 * s:.2f}"/>',
        f'<rect x="{x0:.2f}" y="{y:.2f}" width="{length:.2f}" height="{bar:.2f}" fill="none" stroke="{_INK}" '
        f'stroke-width="{0.3 * s:.2f}"/>',
        f'<text x="{x0:.2f}" y="{y - 1.6 * s:.2f}" font-size="{size:.2f}" text-anchor="middle" fill="{_INK}">0</text>',
        f'<text x="{x0 + length / 2:.2f}" y="{y - 1.6 * s:.2f}" font-size="{size:.2f}" text-anchor="middle" '
        f'fill="{_INK}">{half}</text>',
        f'<text x="{x1:.2f}" y="{y - 1.6 * s:.2f}" font-size="{size:.2f}" text-anchor="middle" '
        f'fill="{_INK}">{label}</text>',
    ], area


def _stroke(d: str, colour: str, width: float, *, dash: str | None = None, opacity: float = 1.0) -> str:
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    extra += f' stroke-opacity="{opacity}"' if opacity != 1.0 else ""
    return (
        f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width:.2f}" stroke-linejoin="round" '
        f'stroke-linecap="round"{extra}/>'
    )


def _path(geoms: list[BaseGeometry] | np.ndarray) -> str:
    """SVG path data of polygons (every ring closed) and lines, in paper millimetres."""
    out: list[str] = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        kind = geom.geom_type
        if kind in ("MultiPolygon", "MultiLineString", "GeometryCollection"):
            out.append(_path(list(geom.geoms)))
        elif kind == "Polygon":
            for ring in (geom.exterior, *geom.interiors):
                out.append(_coords(np.asarray(ring.coords)) + "Z")
        elif kind in ("LineString", "LinearRing"):
            out.append(_coords(np.asarray(geom.coords)))
    return "".join(out)


def _coords(xy: np.ndarray) -> str:
    if len(xy) == 0:
        return ""
    head = f"M{xy[0, 0]:.2f} {xy[0, 1]:.2f}"
    return head + "".join(f"L{x:.2f} {y:.2f}" for x, y in xy[1:, :2])
