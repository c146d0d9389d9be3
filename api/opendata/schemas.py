"""Response shapes of the open-data routes: published cells, their buckets and the licence."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.opendata.service import Breakdown, Cell, CreditFlow, Period, Published

LICENSE_NAME = "공공누리 제1유형: 출처표시"
LICENSE_NAME_EN = "Korea Open Government Licence, Type 1: Attribution"
LICENSE_URL = "https://www.kogl.or.kr/info/licenseType1.do"
ATTRIBUTION = "Incheon Metropolitan City, CRDA carbon reduction platform"


class License(BaseModel):
    name: str = LICENSE_NAME
    name_en: str = LICENSE_NAME_EN
    url: str = LICENSE_URL
    attribution: str = Field(
        default=ATTRIBUTION, description="The source to name when reusing the data."
    )


class Suppression(BaseModel):
    """How cells were protected (``mobile_api_docs/open-data.md`` explains each rule)."""

    min_citizens: int = Field(description="k: a published cell counts at least k citizens.")
    rules: list[str]


SUPPRESSION_RULES = [
    "fixed non-overlapping buckets (Asia/Seoul day, ISO week, month), published once ended",
    "fixed dimension sets, no filters",
    "a cell with fewer than k distinct citizens (none included) is suppressed",
    "complementary suppression: a bucket's suppressed cells hold 0 or at least k citizens",
    "a week or month cell is suppressed when it minus its published days would give away one "
    "suppressed day, or suppressed days of fewer than k citizens together",
]

_LICENSE_EXAMPLE: dict[str, Any] = {
    "name": LICENSE_NAME,
    "name_en": LICENSE_NAME_EN,
    "url": LICENSE_URL,
    "attribution": ATTRIBUTION,
}
_SUPPRESSION_EXAMPLE: dict[str, Any] = {"min_citizens": 10, "rules": list(SUPPRESSION_RULES)}


class ActivityCell(BaseModel):
    """One published cell; every figure is null when ``suppressed``."""

    key: str = Field(description="The district, mode or product category ('total' for a total).")
    co2e_g: int | None = Field(description="Grams of CO2e avoided (credits earned, 1 per gram).")
    activities: int | None = Field(description="Accepted activities (trips or receipts).")
    participants: int | None = Field(description="Distinct citizens.")
    suppressed: bool

    @classmethod
    def of(cls, key: str, cell: Cell) -> ActivityCell:
        if cell.suppressed:
            return cls(key=key, co2e_g=None, activities=None, participants=None, suppressed=True)
        return cls(
            key=key,
            co2e_g=cell.sums["co2e_g"],
            activities=cell.sums["activities"],
            participants=len(cell.citizens),
            suppressed=False,
        )


class ActivityBucket(BaseModel):
    period: str = Field(description="2026-11-23, 2026-W48 or 2026-11 (Asia/Seoul).")
    total: ActivityCell
    cells: list[ActivityCell]


class ActivitiesPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "activities",
                    "period": "day",
                    "by": "district",
                    "timezone": "Asia/Seoul",
                    "license": _LICENSE_EXAMPLE,
                    "suppression": _SUPPRESSION_EXAMPLE,
                    "buckets": [
                        {
                            "period": "2026-11-23",
                            "total": {
                                "key": "total",
                                "co2e_g": 41_250,
                                "activities": 57,
                                "participants": 31,
                                "suppressed": False,
                            },
                            "cells": [
                                {
                                    "key": "songdo",
                                    "co2e_g": 18_400,
                                    "activities": 22,
                                    "participants": 14,
                                    "suppressed": False,
                                },
                                {
                                    "key": "ongjin-gun",
                                    "co2e_g": None,
                                    "activities": None,
                                    "participants": None,
                                    "suppressed": True,
                                },
                            ],
                        }
                    ],
                }
            ]
        }
    )

    dataset: Literal["activities"] = "activities"
    period: Period
    by: Breakdown
    timezone: str = "Asia/Seoul"
    license: License
    suppression: Suppression
    buckets: list[ActivityBucket]

    @classmethod
    def of(
        cls, period: Period, by: Breakdown, k: int, buckets: list[Published]
    ) -> ActivitiesPublic:
        return cls(
            period=period,
            by=by,
            license=License(),
            suppression=Suppression(min_citizens=k, rules=SUPPRESSION_RULES),
            buckets=[
                ActivityBucket(
                    period=b.period,
                    total=ActivityCell.of("total", b.total or Cell(suppressed=True)),
                    cells=[ActivityCell.of(key, cell) for key, cell in b.cells],
                )
                for b in buckets
            ],
        )


class CreditCell(BaseModel):
    key: CreditFlow
    grams: int | None = Field(
        description=(
            "Credits (grams of CO2e) issued (for the bucket's accepted activities, once all "
            "are on chain), traded or retired."
        )
    )
    count: int | None = Field(description="Claims issued, trades settled or retirements.")
    won: int | None = Field(description="Won paid for the credits traded (trades only).")
    participants: int | None = Field(description="Distinct citizens (both sides of a trade).")
    suppressed: bool

    @classmethod
    def of(cls, key: CreditFlow, cell: Cell) -> CreditCell:
        if cell.suppressed:
            return cls(
                key=key, grams=None, count=None, won=None, participants=None, suppressed=True
            )
        return cls(
            key=key,
            grams=cell.sums["grams"],
            count=cell.sums["count"],
            won=cell.sums["won"] if key == "traded" else None,
            participants=len(cell.citizens),
            suppressed=False,
        )


class CreditBucket(BaseModel):
    period: str
    cells: list[CreditCell]


class CreditsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "credits",
                    "period": "month",
                    "timezone": "Asia/Seoul",
                    "license": _LICENSE_EXAMPLE,
                    "suppression": _SUPPRESSION_EXAMPLE,
                    "buckets": [
                        {
                            "period": "2026-11",
                            "cells": [
                                {
                                    "key": "issued",
                                    "grams": 1_250_000,
                                    "count": 1_710,
                                    "won": None,
                                    "participants": 420,
                                    "suppressed": False,
                                },
                                {
                                    "key": "traded",
                                    "grams": 300_000,
                                    "count": 45,
                                    "won": 4_500_000,
                                    "participants": 38,
                                    "suppressed": False,
                                },
                                {
                                    "key": "retired",
                                    "grams": None,
                                    "count": None,
                                    "won": None,
                                    "participants": None,
                                    "suppressed": True,
                                },
                            ],
                        }
                    ],
                }
            ]
        }
    )

    dataset: Literal["credits"] = "credits"
    period: Period
    timezone: str = "Asia/Seoul"
    license: License
    suppression: Suppression
    buckets: list[CreditBucket]

    @classmethod
    def of(cls, period: Period, k: int, buckets: list[Published]) -> CreditsPublic:
        return cls(
            period=period,
            license=License(),
            suppression=Suppression(min_citizens=k, rules=SUPPRESSION_RULES),
            buckets=[
                CreditBucket(
                    period=b.period,
                    cells=[CreditCell.of(key, cell) for key, cell in b.cells],  # type: ignore[arg-type]
                )
                for b in buckets
            ],
        )
