"""Paper: what commgrid prints for walls and desks.

Modules: grid posters (:mod:`~tiles.paper.poster`), contact cards
(:mod:`~tiles.paper.cards`), the map drawn as SVG for both (:mod:`~tiles.paper.mapsvg`),
patrol calendars and weekly sheets (:mod:`~tiles.paper.patrol_sheets`), and the
PDF/PNG/QR printing they share (:mod:`~tiles.paper.printing`).
"""
