"""The open-data page, rendered here as HTML with inline SVG charts (no script, no CDN).

Every word the page shows is in ``MESSAGES`` (and the district names in ``DISTRICT_NAMES``),
so the page can be translated in one place.
"""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from api.opendata.schemas import (
    ATTRIBUTION,
    LICENSE_NAME,
    LICENSE_NAME_EN,
    LICENSE_URL,
    ActivitiesPublic,
    ActivityCell,
    CreditsPublic,
)
from api.opendata.service import BREAKDOWNS, PERIODS, Breakdown, Period

MESSAGES = {
    "title": "Incheon open data: carbon reductions",
    "lead": (
        "What citizens of Incheon avoided by taking transit, riding and buying low-carbon "
        "products through the CRDA platform, by district, mode and product category."
    ),
    "period.day": "Day",
    "period.week": "Week",
    "period.month": "Month",
    "latest.day": "Latest day: {label}",
    "latest.week": "Latest week: {label}",
    "latest.month": "Latest month: {label}",
    "nothing": "Nothing published yet: a day, week or month is published once it has ended.",
    "co2e": "CO2e avoided",
    "activities": "Activities",
    "participants": "Participants",
    "by.district": "CO2e avoided by district (kg)",
    "by.mode": "CO2e avoided by trip mode (kg)",
    "by.category": "CO2e avoided by product category (kg)",
    "history": "CO2e avoided in the city over time (kg)",
    "credits": "Credits issued, traded and retired",
    "flow.issued": "Issued",
    "flow.traded": "Traded",
    "flow.retired": "Retired",
    "grams": "Credits (kg CO2e)",
    "count": "Count",
    "won": "Won paid",
    "suppressed": "suppressed",
    "suppressed.note": (
        "Suppressed: fewer than {k} citizens, or hidden so that it cannot be worked out "
        "from the other figures."
    ),
    "downloads": "Downloads",
    "download.activities": "Activities by {by} ({fmt})",
    "download.credits": "Credits ({fmt})",
    "privacy": (
        "Only totals are published, never a person, an address or an id. Days, ISO weeks and "
        "months are fixed (Asia/Seoul) and published once ended; any figure that counts fewer "
        "than {k} citizens is suppressed, together with what would let it be subtracted out."
    ),
    "license": "Licence: {name} ({name_en}). Source: {attribution}.",
    "by.name.district": "district",
    "by.name.mode": "mode",
    "by.name.category": "category",
    "unassigned": "place not recorded",
}

DISTRICT_NAMES = {
    "jung-gu": "Jung-gu",
    "dong-gu": "Dong-gu",
    "michuhol-gu": "Michuhol-gu",
    "yeonsu-gu": "Yeonsu-gu",
    "namdong-gu": "Namdong-gu",
    "bupyeong-gu": "Bupyeong-gu",
    "gyeyang-gu": "Gyeyang-gu",
    "seo-gu": "Seo-gu",
    "ganghwa-gun": "Ganghwa-gun",
    "ongjin-gun": "Ongjin-gun",
    "songdo": "Songdo (IFEZ)",
    "cheongna": "Cheongna (IFEZ)",
    "yeongjong": "Yeongjong (IFEZ)",
}

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2a33; background: #f4f7f6; }
header { background: #0b6e4f; color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 6px; font-size: 24px; }
main { padding: 16px 32px; display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
section { background: #fff; border-radius: 8px; padding: 14px 18px; }
section.wide { grid-column: 1 / 3; }
h2 { font-size: 16px; margin: 0 0 10px; }
nav a { color: #fff; margin-right: 12px; }
nav a.current { font-weight: bold; text-decoration: none; }
.cards { display: flex; gap: 16px; }
.card { flex: 1; background: #e6f2ee; border-radius: 6px; padding: 10px 14px; }
.card b { display: block; font-size: 22px; }
svg text { font-size: 12px; fill: #1d2a33; }
rect.bar { fill: #2a9d8f; }
rect.bar.suppressed { fill: url(#hatch); stroke: #9aa5ab; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: right; padding: 4px 8px; border-bottom: 1px solid #e2e8e6; }
td:first-child, th:first-child { text-align: left; }
footer { padding: 0 32px 24px; font-size: 13px; color: #4a5a63; }
"""

HATCH = (
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#eef1f2"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#9aa5ab" stroke-width="2"/></pattern></defs>'
)


def _query(**values: str) -> str:
    return escape(urlencode(values))


def _t(key: str, **values: object) -> str:
    return escape(MESSAGES[key].format(**values))


def _kg(grams: int | None) -> str:
    return "-" if grams is None else f"{grams / 1000:,.1f}"


def _label(by: Breakdown, key: str) -> str:
    if by == "district":
        return DISTRICT_NAMES.get(key) or MESSAGES["unassigned"]
    return key.replace("_", " ")


def hbar_chart(chart_id: str, rows: list[tuple[str, int | None]]) -> str:
    """Horizontal bars of grams shown as kg; a suppressed row (None) is a hatched stub."""
    width, label_w, row_h = 520, 150, 22
    top = max((v for _, v in rows if v is not None), default=0) or 1
    height = row_h * len(rows) + 6
    parts = [
        f'<svg id="{chart_id}" class="chart" width="{width}" height="{height}" role="img" '
        f'data-bars="{sum(v is not None for _, v in rows)}" '
        f'data-suppressed="{sum(v is None for _, v in rows)}">{HATCH}'
    ]
    for i, (label, value) in enumerate(rows):
        y = i * row_h + 3
        parts.append(f'<text x="0" y="{y + 14}">{escape(label)}</text>')
        if value is None:
            parts.append(
                f'<rect class="bar suppressed" x="{label_w}" y="{y}" width="60" height="16"/>'
                f'<text x="{label_w + 66}" y="{y + 14}">{_t("suppressed")}</text>'
            )
        else:
            w = max(1, round((width - label_w - 80) * value / top))
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="16"/>'
                f'<text x="{label_w + w + 6}" y="{y + 14}">{_kg(value)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def vbar_chart(chart_id: str, points: list[tuple[str, int | None]]) -> str:
    """Vertical bars over time (oldest left); suppressed buckets are hatched stubs."""
    width, height, base = 1080, 200, 170
    top = max((v for _, v in points if v is not None), default=0) or 1
    step = (width - 40) / max(1, len(points))
    parts = [
        f'<svg id="{chart_id}" class="chart" width="{width}" height="{height}" role="img" '
        f'data-bars="{sum(v is not None for _, v in points)}">{HATCH}'
    ]
    for i, (label, value) in enumerate(points):
        x = 30 + i * step
        bar_w = min(48.0, max(2.0, step * 0.7))
        if value is None:
            parts.append(
                f'<rect class="bar suppressed" x="{x:.1f}" y="{base - 12}" '
                f'width="{bar_w:.1f}" height="12"/>'
            )
        else:
            h = max(1.0, (base - 20) * value / top)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{base - h:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}"><title>{escape(label)}: {_kg(value)} kg</title></rect>'
            )
        if len(points) <= 16 or i % max(1, len(points) // 8) == 0:
            parts.append(f'<text x="{x:.1f}" y="{base + 18}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _card(name: str, cell: ActivityCell, field: str) -> str:
    value = getattr(cell, field)
    shown = _kg(value) + " kg" if field == "co2e_g" and value is not None else value
    text = _t("suppressed") if value is None else f"{shown:,}" if isinstance(shown, int) else shown
    return f'<div class="card">{_t(name)}<b>{escape(str(text))}</b></div>'


def render(period: Period, views: dict[Breakdown, ActivitiesPublic], flows: CreditsPublic) -> str:
    k = flows.suppression.min_citizens
    current = ' class="current"'
    nav = "".join(
        f'<a href="/open-data?{urlencode({"period": p})}"{current if p == period else ""}>'
        f"{_t('period.' + p)}</a>"
        for p in PERIODS
    )
    head = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_t("title")}'
        f'</title><link rel="license" href="{LICENSE_URL}"><style>{STYLE}</style></head>'
        f"<body><header><h1>{_t('title')}</h1><p>{_t('lead')}</p><nav>{nav}</nav></header><main>"
    )
    sections: list[str] = []
    buckets = views["district"].buckets
    if not buckets:
        sections.append(f'<section class="wide" id="empty">{_t("nothing")}</section>')
    else:
        latest = buckets[-1]
        sections.append(
            f'<section class="wide" id="latest" data-period="{escape(latest.period)}"><h2>'
            f"{_t('latest.' + period, label=latest.period)}</h2>"
            '<div class="cards">'
            + _card("co2e", latest.total, "co2e_g")
            + _card("activities", latest.total, "activities")
            + _card("participants", latest.total, "participants")
            + f"</div><p>{_t('suppressed.note', k=k)}</p></section>"
        )
        for by in BREAKDOWNS:
            bucket = views[by].buckets[-1]
            rows = [(_label(by, c.key), c.co2e_g) for c in bucket.cells]
            sections.append(
                f"<section><h2>{_t('by.' + by)}</h2>{hbar_chart(by + '-chart', rows)}</section>"
            )
        history = [(b.period, b.total.co2e_g) for b in buckets[-60:]]
        sections.append(
            f'<section class="wide"><h2>{_t("history")}</h2>'
            f"{vbar_chart('history-chart', history)}</section>"
        )
    if flows.buckets:
        cells = flows.buckets[-1].cells
        table = "".join(
            f"<tr><td>{_t('flow.' + c.key)}</td>"
            f"<td>{_t('suppressed') if c.grams is None else _kg(c.grams)}</td>"
            f"<td>{'' if c.count is None else c.count}</td>"
            f"<td>{'' if c.won is None else f'{c.won:,}'}</td>"
            f"<td>{'' if c.participants is None else c.participants}</td></tr>"
            for c in cells
        )
        sections.append(
            f'<section id="credits"><h2>{_t("credits")} ({escape(flows.buckets[-1].period)})</h2>'
            f"<table><tr><th></th><th>{_t('grams')}</th><th>{_t('count')}</th>"
            f"<th>{_t('won')}</th><th>{_t('participants')}</th></tr>{table}</table></section>"
        )
    links = [
        f'<li><a href="/open-data/activities?{_query(period=period, by=by, format=fmt)}">'
        f"{_t('download.activities', by=MESSAGES['by.name.' + by], fmt=fmt.upper())}</a></li>"
        for by in BREAKDOWNS
        for fmt in ("json", "csv")
    ] + [
        f'<li><a href="/open-data/credits?{_query(period=period, format=fmt)}">'
        f"{_t('download.credits', fmt=fmt.upper())}</a></li>"
        for fmt in ("json", "csv")
    ]
    sections.append(
        f'<section id="downloads"><h2>{_t("downloads")}</h2><ul>{"".join(links)}</ul></section>'
    )
    footer = (
        f"<footer><p>{_t('privacy', k=k)}</p><p>"
        f'<a href="{LICENSE_URL}" rel="license">'
        f"{_t('license', name=LICENSE_NAME, name_en=LICENSE_NAME_EN, attribution=ATTRIBUTION)}"
        "</a></p></footer>"
    )
    return head + "".join(sections) + "</main>" + footer + "</body></html>"
