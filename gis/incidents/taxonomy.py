"""The incident taxonomy: two or three levels of categories, labelled in Chinese and English.

A category's code is its path of keys joined by dots (``fire_hazard.blocked_exit``).
Each category names the handling class incidents of it start with, whether the public
may see it (aggregated; public routes never show raw points) and its time limit
(:mod:`gis.incidents.deadlines`); children inherit all three unless they say otherwise.

:data:`DEFAULT` is shipped; a district may use its own from a JSON file of the same
shape (:func:`read_taxonomy`)::

    {"sanitation": {"zh": "环境卫生", "en": "Sanitation", "handling_class": "on_site", "public": true,
                    "limit": {"working_hours": 8},
                    "children": {"garbage": {"zh": "垃圾堆放", "en": "Piled garbage"}}}}
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gis.errors import FormatError, InputError
from gis.incidents.deadlines import check_limit

__all__ = ["DEFAULT", "HANDLING_CLASSES", "Category", "Taxonomy", "read_taxonomy", "taxonomy_from_dict"]

HANDLING_CLASSES = ("on_site", "coordinated", "emergency", "approval")
_MAX_DEPTH = 3


@dataclass(frozen=True)
class Category:
    """One category: its dotted code, labels, handling class and public flag."""

    code: str
    zh: str
    en: str
    handling_class: str
    public: bool
    level: int
    limit: tuple[str, float] | None = None  # e.g. ("working_days", 3); see gis.incidents.deadlines

    @property
    def parent(self) -> str | None:
        head, _, _ = self.code.rpartition(".")
        return head or None


class Taxonomy:
    """Categories by code, in the order given; look one up with :meth:`find`."""

    def __init__(self, categories: list[Category]) -> None:
        self._by_code = {c.code: c for c in categories}

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    @property
    def codes(self) -> list[str]:
        return list(self._by_code)

    def find(self, code: str, *, field: str = "category") -> Category:
        """The category of ``code``.

        Raises
        ------
        InputError
            For an unknown code, listing the top-level codes and how to see all.

        Examples
        --------
        >>> DEFAULT.find("fire_hazard.blocked_exit").en
        'Blocked fire exit'
        """
        try:
            return self._by_code[code]
        except KeyError:
            tops = [c.code for c in self if c.level == 1]
            raise InputError(
                f"unknown category {code!r}: expected a code of the incident taxonomy, one of {tops} "
                "or a sub-category such as 'sanitation.garbage'",
                field=field,
                see="incident_taxonomy",
            ) from None

    def to_dicts(self) -> list[dict[str, Any]]:
        """The categories as plain records (for JSON)."""
        return [
            {"code": c.code, "parent": c.parent, "level": c.level, "zh": c.zh, "en": c.en,
             "handling_class": c.handling_class, "public": c.public,
             "limit": None if c.limit is None else dict([c.limit])}
            for c in self
        ]  # fmt: skip


def taxonomy_from_dict(tree: Mapping[str, Any], *, source: str = "taxonomy") -> Taxonomy:
    """Build a taxonomy from nested mappings (see the module docstring).

    Raises
    ------
    InputError
        For a missing label, an unknown handling class, a dot in a key, or a tree
        deeper than three levels or only one level deep.
    """
    out: list[Category] = []
    _walk(tree, prefix="", level=1, handling=None, public=None, limit=None, out=out, source=source)
    depth = max((c.level for c in out), default=0)
    if depth < 2:
        raise InputError(f"{source}: the taxonomy has {depth} level(s); give categories two or three levels")
    return Taxonomy(out)


def _walk(
    tree: Mapping[str, Any],
    *,
    prefix: str,
    level: int,
    handling: str | None,
    public: bool | None,
    limit: tuple[str, float] | None,
    out: list[Category],
    source: str,
) -> None:
    for key, node in tree.items():
        code = f"{prefix}{key}"
        if not key or "." in key or not isinstance(node, Mapping):
            raise InputError(f"{source}: category {code!r} must be a key without dots mapped to an object")
        if level > _MAX_DEPTH:
            raise InputError(f"{source}: category {code!r} is on level {level}; the taxonomy allows at most three")
        missing = [k for k in ("zh", "en") if not node.get(k)]
        if missing:
            raise InputError(f"{source}: category {code!r} lacks the label(s) {missing}; give both 'zh' and 'en'")
        klass = node.get("handling_class", handling)
        if klass not in HANDLING_CLASSES:
            raise InputError(
                f"{source}: category {code!r} has handling class {klass!r}; expected one of {list(HANDLING_CLASSES)}"
            )
        shown = bool(node.get("public", public if public is not None else False))
        own = limit
        if "limit" in node:
            check_limit(node["limit"], where=f"{source}: category {code!r} has the limit")
            own = next(iter(node["limit"].items()))
        out.append(Category(code, str(node["zh"]), str(node["en"]), klass, shown, level, own))
        _walk(
            node.get("children", {}),
            prefix=f"{code}.",
            level=level + 1,
            handling=klass,
            public=shown,
            limit=own,
            out=out,
            source=source,
        )


def read_taxonomy(path: str | Path) -> Taxonomy:
    """Read a taxonomy from a JSON file.

    Raises
    ------
    FormatError
        When the file is not JSON holding an object.
    InputError
        For the errors :func:`taxonomy_from_dict` names.
    """
    try:
        tree = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FormatError(f"cannot read the taxonomy {path}: {exc}; expected a JSON object", file=str(path)) from None
    if not isinstance(tree, dict):
        raise FormatError(f"the taxonomy {path} holds a {type(tree).__name__}; expected a JSON object", file=str(path))
    return taxonomy_from_dict(tree, source=str(path))


def _c(zh: str, en: str, **extra: Any) -> dict[str, Any]:
    return {"zh": zh, "en": en, **extra}


# Top-level codes match the categories of the sample generator (data/sample.py).
_DEFAULT_TREE: dict[str, Any] = {
    "dispute": _c("矛盾纠纷", "Dispute", handling_class="coordinated", public=False,
                  limit={"working_days": 5}, children={
        "neighbour": _c("邻里纠纷", "Neighbour dispute"),
        "family": _c("家庭纠纷", "Family dispute"),
        "property_management": _c("物业纠纷", "Property management dispute"),
        "labour": _c("劳资纠纷", "Labour dispute", handling_class="approval"),
    }),
    "safety_hazard": _c("安全隐患", "Safety hazard", handling_class="coordinated", public=True,
                        limit={"working_days": 3}, children={
        "building": _c("房屋安全", "Unsafe building"),
        "gas": _c("燃气隐患", "Gas hazard"),
        "electricity": _c("用电隐患", "Electrical hazard"),
        "facility": _c("设施损坏", "Damaged public facility", handling_class="on_site"),
    }),
    "fire_hazard": _c("消防隐患", "Fire hazard", handling_class="coordinated", public=True,
                      limit={"hours": 24}, children={
        "blocked_exit": _c("消防通道堵塞", "Blocked fire exit", handling_class="on_site"),
        "ebike_charging": _c("电动车违规充电", "E-bike charged indoors", handling_class="on_site"),
        "equipment": _c("消防设施损坏", "Damaged fire equipment"),
        "flammables": _c("易燃物堆放", "Stored flammables"),
    }),
    "sanitation": _c("环境卫生", "Sanitation", handling_class="on_site", public=True,
                     limit={"working_hours": 8}, children={
        "garbage": _c("垃圾堆放", "Piled garbage", children={
            "household": _c("生活垃圾", "Household waste"),
            "construction": _c("建筑垃圾", "Construction waste", handling_class="coordinated"),
            "bulky": _c("大件垃圾", "Bulky waste"),
        }),
        "sewage": _c("污水外溢", "Sewage overflow", handling_class="coordinated"),
        "pests": _c("病媒生物", "Pests and vermin"),
    }),
    "street_order": _c("市容秩序", "Street order", handling_class="coordinated", public=True,
                       limit={"working_days": 2}, children={
        "parking": _c("乱停乱放", "Illegal parking", handling_class="on_site"),
        "vending": _c("占道经营", "Street vending"),
        "construction": _c("违章搭建", "Illegal construction", handling_class="approval", limit={"working_days": 5}),
        "noise": _c("噪声扰民", "Noise"),
        "advertising": _c("乱张贴", "Illegal posters", handling_class="on_site"),
    }),
    "public_security": _c("社会治安", "Public security", handling_class="coordinated", public=True,
                          limit={"working_days": 1}, children={
        "theft": _c("盗窃", "Theft", children={
            "vehicle": _c("盗窃车辆", "Theft of a vehicle"),
            "from_vehicle": _c("车内盗窃", "Theft from a vehicle"),
            "bicycle": _c("盗窃自行车", "Theft of a bicycle"),
            "burglary": _c("入室盗窃", "Break and enter"),
            "other": _c("其他盗窃", "Other theft"),
        }),
        "vandalism": _c("故意毁物", "Mischief and vandalism"),
        "assault": _c("人身伤害", "Offence against a person", public=False),
        "traffic": _c("交通事故", "Traffic collision"),
    }),
    "emergency": _c("突发事件", "Emergency", handling_class="emergency", public=False,
                    limit={"hours": 2}, children={
        "fire": _c("火灾", "Fire"),
        "injury": _c("人员伤亡", "Injury or death"),
        "flooding": _c("内涝积水", "Flooding", public=True),
        "utility_outage": _c("停水停电停气", "Utility outage", public=True),
    }),
    "request": _c("居民诉求", "Residents' request", handling_class="on_site", public=False,
                  limit={"working_days": 5}, children={
        "repair": _c("设施报修", "Repair request", public=True),
        "assistance": _c("困难帮扶", "Hardship assistance", handling_class="approval", limit={"working_days": 10}),
        "consultation": _c("政策咨询", "Policy question"),
        "complaint": _c("投诉建议", "Complaint or suggestion", handling_class="coordinated"),
    }),
}  # fmt: skip

DEFAULT: Taxonomy = taxonomy_from_dict(_DEFAULT_TREE, source="the default taxonomy")
