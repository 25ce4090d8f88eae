"""The few SQL expressions SQLite and PostgreSQL spell differently, as SQLAlchemy constructs.

Timestamps are stored in UTC (SQLite: text without an offset; PostgreSQL: timestamptz), so each
expression reads them as UTC whatever the session's time zone.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Date, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

Granularity = Literal["month", "quarter"]


class SecondsBetween(FunctionElement[float]):
    """`end - start` in whole seconds; NULL when either is NULL."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(SecondsBetween, "sqlite")
def _seconds_sqlite(element: SecondsBetween, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"round((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(SecondsBetween, "postgresql")
def _seconds_postgresql(element: SecondsBetween, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(arg, **kw) for arg in element.clauses)
    return f"round(extract(epoch from ({end} - {start})))::float"


class UtcDate(FunctionElement[Any]):
    """The UTC calendar day of a timestamp."""

    type = Date()
    inherit_cache = True
    name = "utc_date"


@compiles(UtcDate, "sqlite")
def _date_sqlite(element: UtcDate, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(UtcDate, "postgresql")
def _date_postgresql(element: UtcDate, compiler: Any, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')::date"


class MonthKey(FunctionElement[str]):
    """`2026-07`: the UTC month of a timestamp; sorts in time order."""

    type = String()
    inherit_cache = True
    name = "month_key"


class QuarterKey(FunctionElement[str]):
    """`2026-Q3`: the UTC quarter of a timestamp; sorts in time order."""

    type = String()
    inherit_cache = True
    name = "quarter_key"


def period_key(moment: ColumnElement[Any], granularity: Granularity) -> FunctionElement[str]:
    return MonthKey(moment) if granularity == "month" else QuarterKey(moment)


@compiles(MonthKey, "sqlite")
def _month_sqlite(element: MonthKey, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(QuarterKey, "sqlite")
def _quarter_sqlite(element: QuarterKey, compiler: Any, **kw: Any) -> str:
    moment = compiler.process(element.clauses, **kw)
    return f"(strftime('%Y', {moment}) || '-Q' || ((CAST(strftime('%m', {moment}) AS INTEGER) + 2) / 3))"


@compiles(MonthKey, "postgresql")
def _month_postgresql(element: MonthKey, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM')"


@compiles(QuarterKey, "postgresql")
def _quarter_postgresql(element: QuarterKey, compiler: Any, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-\"Q\"Q')"
