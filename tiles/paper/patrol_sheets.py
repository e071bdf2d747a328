"""Patrol charts and sheets: a worker's compliance calendar (PNG) and the weekly report (PDF, CSV).

The calendar is drawn with matplotlib; the weekly report is HTML laid out by
WeasyPrint (:func:`tiles.paper.printing.html_to_pdf`), like the posters, so Chinese names
wrap and stay searchable. Both need Noto Sans CJK for Chinese text.
"""

from __future__ import annotations

import calendar as _calendar
import functools
import io
import shutil
import subprocess

import pandas as pd

from gis import clock
from gis.csv_safety import frame_to_csv
from gis.patrols.reports import WEEKLY_FIELDS, WeeklyReport
from gis.worklog import KIND_LABELS, KINDS
from tiles.paper.printing import FONT_FAMILY, escape, html_to_pdf

__all__ = ["STATUS_COLOURS", "calendar_png", "weekly_csv", "weekly_pdf"]

STATUS_COLOURS = {
    "compliant": "#1a9850",  # the rule kept
    "partial": "#fdae61",  # some long visits, too few
    "missed": "#d73027",  # tracks, but no long visit
    "no data": "#d9d9d9",  # no result for the day
}
_WEEKDAYS = ["一 Mon", "二 Tue", "三 Wed", "四 Thu", "五 Fri", "六 Sat", "日 Sun"]


@functools.cache
def _font_family() -> str:
    """Register Noto Sans CJK with matplotlib (its font cache may predate the font) and name it."""
    from matplotlib import font_manager

    fc_match = shutil.which("fc-match")
    if fc_match is not None:
        found = subprocess.run([fc_match, "-f", "%{file}", FONT_FAMILY], capture_output=True, text=True).stdout
        if found and "CJK" in found:
            font_manager.fontManager.addfont(found)
            return FONT_FAMILY
    return "DejaVu Sans"


def _status(row: pd.Series, min_visits: int) -> str:
    if not row["analysed"]:
        return "no data"
    if row["compliant"]:
        return "compliant"
    return "partial" if row["long_visits"] > 0 else "missed"


def calendar_png(days: pd.DataFrame, *, title: str, min_visits: int = 2, dpi: int = 120) -> bytes:
    """A calendar of a worker's days coloured by compliance, as PNG.

    Parameters
    ----------
    days
        From :func:`gis.patrols.reports.read_calendar`: ``day``, ``analysed``,
        ``compliant``, ``long_visits``, ``coverage``; consecutive days.
    title
        The heading, e.g. the worker's name, grid and month.
    min_visits
        Long visits a compliant day needs, shown as ``long/needed`` in each cell.
    dpi
        Resolution.

    Returns
    -------
    bytes
        The PNG file.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch, Rectangle

    family = _font_family()
    first = pd.Timestamp(days["day"].iloc[0]).date() if len(days) else clock.today()
    monday = first.toordinal() - first.weekday()
    weeks = max(1, -(-(pd.Timestamp(days["day"].iloc[-1]).date().toordinal() - monday + 1) // 7)) if len(days) else 1
    fig, ax = plt.subplots(figsize=(7.2, 1.6 + 0.75 * weeks), dpi=dpi)
    for _, row in days.iterrows():
        day = pd.Timestamp(row["day"]).date()
        offset = day.toordinal() - monday
        col, line = offset % 7, offset // 7
        status = _status(row, min_visits)
        ax.add_patch(Rectangle((col, weeks - 1 - line), 0.94, 0.9, facecolor=STATUS_COLOURS[status], edgecolor="white"))
        ink = "white" if status in ("compliant", "missed") else "#333333"
        ax.text(col + 0.06, weeks - 1 - line + 0.72, f"{day.month}/{day.day}", fontsize=8, color=ink, family=family)
        if row["analysed"]:
            cover = "" if pd.isna(row["coverage"]) else f"  {100 * row['coverage']:.0f}%"
            ax.text(
                col + 0.47,
                weeks - 1 - line + 0.28,
                f"{int(row['long_visits'])}/{min_visits}{cover}",
                fontsize=8,
                ha="center",
                color=ink,
                family=family,
            )
    for i, label in enumerate(_WEEKDAYS):
        ax.text(i + 0.47, weeks + 0.1, label, ha="center", fontsize=8, family=family)
    ax.set_xlim(-0.05, 7)
    ax.set_ylim(-0.05, weeks + 0.45)
    ax.axis("off")
    ax.set_title(title, fontsize=11, family=family, loc="left")
    labels = {
        "compliant": f"达标 kept (≥{min_visits} long visits)",
        "partial": "不足 too few",
        "missed": "未巡 no long visit",
        "no data": "无数据 no data",
    }
    ax.legend(
        handles=[Patch(facecolor=STATUS_COLOURS[k], label=v) for k, v in labels.items()],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        ncol=4,
        fontsize=7,
        frameon=False,
        prop={"family": family, "size": 7},
    )
    out = io.BytesIO()
    fig.savefig(out, format="png", bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def weekly_csv(report: WeeklyReport) -> str:
    """The weekly report's rows as CSV (UTF-8 text with a header line)."""
    frame = report.rows[WEEKLY_FIELDS].copy()
    frame.insert(0, "week", report.week)
    return frame_to_csv(frame, index=False, float_format="%.2f")


def weekly_pdf(report: WeeklyReport) -> bytes:
    """The weekly report as a one-page A4 landscape PDF (a community's grids fit; a district may run on).

    Raises
    ------
    tiles.paper.printing.FontMissingError
        When Noto Sans CJK is not installed.
    """
    return html_to_pdf(_weekly_html(report))


def _number(value: float | None, digits: int = 1, suffix: str = "") -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.{digits}f}{suffix}"


def _text(value: object) -> str:
    return "—" if value is None or (isinstance(value, float) and pd.isna(value)) else escape(str(value))


def _log_cell(row: object) -> str:
    """A worker's week of work log: entries / days / reviewed, then the entries per kind."""
    kinds = " ".join(f"{KIND_LABELS[k].split()[0]}{n}" for k in KINDS if (n := getattr(row, f"log_{k}")))
    total = sum(getattr(row, f"log_{k}") for k in KINDS)
    return f"{total} / {row.log_days} / {row.log_reviewed}" + (f"<br><small>{escape(kinds)}</small>" if kinds else "")


def _weekly_html(report: WeeklyReport) -> str:
    rows = report.rows
    size = 9.0 if len(rows) <= 22 else 7.5 if len(rows) <= 32 else 6.0
    body = []
    for r in rows.itertuples(index=False):
        kept = "ok" if r.days_compliant == 7 else "bad" if r.days_compliant == 0 else ""
        coverage = None if pd.isna(r.coverage_mean) else 100 * r.coverage_mean
        body.append(
            "<tr>"
            f"<td>{_text(r.community)}</td><td><b>{_text(r.grid_code)}</b></td><td>{_text(r.worker)}</td>"
            f"<td class='n {kept}'>{r.days_compliant} / 7</td>"
            f"<td class='n'>{r.days_with_tracks}</td><td class='n'>{r.patrols}</td>"
            f"<td class='n'>{r.long_visits} / {r.visits}</td>"
            f"<td class='n'>{_number(r.visit_hours)}</td><td class='n'>{_number(r.distance_km)}</td>"
            f"<td class='n'>{_number(coverage, 0, ' %')}</td>"
            f"<td class='n'>{r.incidents_reported}</td><td class='n'>{r.incidents_handled}</td>"
            f"<td class='n'>{_log_cell(r)}</td>"
            "</tr>"
        )
    totals = rows[["days_compliant", "visits", "long_visits", "incidents_reported", "incidents_handled"]].sum()
    where = report.community_name or report.community or "全部社区 all communities"
    month_name = _calendar.month_abbr[report.start.month]
    return f"""<!doctype html>
<html lang="zh-Hans"><head><meta charset="utf-8"><style>
@page {{ size: A4 landscape; margin: 12mm 12mm 14mm 12mm;
        @bottom-right {{ content: "{escape(report.created_at.strftime("%Y-%m-%d %H:%M"))}"; font-size: 7pt;
                        color: #777; font-family: "{FONT_FAMILY}"; }} }}
body {{ font-family: "{FONT_FAMILY}", sans-serif; color: #222; font-size: {size}pt; }}
h1 {{ font-size: 15pt; margin: 0 0 1mm; }}
.sub {{ color: #555; margin-bottom: 3mm; }}
table {{ border-collapse: collapse; width: 100%; }}
th {{ background: #2b5c8a; color: white; text-align: left; padding: 1.2mm 1.5mm; font-weight: bold;
      font-size: {size - 0.5}pt; line-height: 1.25; }}
td {{ padding: 0.9mm 1.5mm; border-bottom: 0.2mm solid #ddd; }}
tr:nth-child(even) td {{ background: #f5f7fa; }}
.n {{ text-align: right; white-space: nowrap; }}
.ok {{ color: #1a7f3c; font-weight: bold; }}
.bad {{ color: #c0392b; font-weight: bold; }}
tfoot td {{ font-weight: bold; border-top: 0.4mm solid #2b5c8a; }}
.note {{ margin-top: 3mm; color: #555; font-size: 7.5pt; }}
</style></head><body>
<h1>网格员周报 · Grid workers' weekly report — {escape(report.week)}</h1>
<div class="sub">{escape(report.district)} · {escape(where)} ·
{report.start.isoformat()} – {report.end.isoformat()} ({month_name})</div>
<table><thead><tr>
<th>社区<br>community</th><th>网格<br>grid</th><th>网格员<br>worker</th><th class="n">达标天数<br>days kept</th>
<th class="n">有轨迹<br>days tracked</th><th class="n">巡查<br>patrols</th>
<th class="n">长/全部到访<br>long/all visits</th>
<th class="n">到访时长<br>hours</th><th class="n">里程<br>km</th><th class="n">覆盖率<br>coverage</th>
<th class="n">上报事件<br>reported</th><th class="n">已办结<br>handled</th>
<th class="n">工作日志 条/天/已审<br>log entries/days/reviewed</th></tr></thead>
<tbody>{"".join(body) or "<tr><td colspan='13'>无网格员 no workers</td></tr>"}</tbody>
<tfoot><tr><td colspan="3">合计 total ({len(rows)} workers)</td><td class="n">{int(totals["days_compliant"])}</td>
<td></td><td></td><td class="n">{int(totals["long_visits"])} / {int(totals["visits"])}</td><td></td><td></td><td></td>
<td class="n">{int(totals["incidents_reported"])}</td><td class="n">{int(totals["incidents_handled"])}</td>
<td></td></tr></tfoot>
</table>
<div class="note">规则 rule: 每天至少 {report.min_visits} 次、每次至少 {report.min_visit_minutes:g} 分钟在本网格巡查
(at least {report.min_visits} visits of {report.min_visit_minutes:g} min in the own grid a day).
覆盖率 coverage: 距当天轨迹 {report.coverage_m:g} 米内的街道长度占比, 有轨迹日的平均
(share of the grid's streets within {report.coverage_m:g} m of the day's tracks, mean over days with tracks).
事件 incidents: 本周在网格内上报的事件及其中已办结的 (reported in the grid this week; of them, closed).
工作日志 log: 本周条数 (按类别)、有日志的天数、站长已审条数
(entries this week by kind, days with a log, reviewed).</div>
</body></html>"""
