"""Statements the Spark executor rewrites, run on Spark and on DuckDB over the same rows."""

from __future__ import annotations

import duckdb

from asemic_core.backend.settings import SparkSettings
from asemic_core.backend.spark_executor import SparkExecutor

ROWS = "(VALUES ('a', 1, 'x'), ('a', 2, NULL), ('a', 3, 'y'), ('a', 4, 'x'), ('b', 1, NULL), ('b', 2, 'z')) " \
       "AS t(entity_id, d, v)"


def test_count_distinct_over_a_window(spark):
    # Spark has no COUNT(DISTINCT ...) OVER: the executor counts the window's set of values.
    sql = (f"SELECT entity_id, d, COUNT(DISTINCT v) OVER (PARTITION BY entity_id ORDER BY d ROWS BETWEEN "
           f"UNBOUNDED PRECEDING AND CURRENT ROW) AS lifetime, COUNT(DISTINCT v) OVER (PARTITION BY entity_id "
           f"ORDER BY d ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS last_two FROM {ROWS} ORDER BY entity_id, d")
    executor = SparkExecutor(SparkSettings())
    assert "COLLECT_SET" in executor.to_spark(sql).upper()
    expected = [("a", 1, 1, 1), ("a", 2, 1, 1), ("a", 3, 2, 1), ("a", 4, 2, 2), ("b", 1, 0, 0), ("b", 2, 1, 1)]
    assert duckdb.sql(sql).fetchall() == expected
    assert executor.rows(sql) == expected
    frame = executor.frame(sql)
    assert str(frame.schema["lifetime"]) == "Int64"


def test_a_series_from_a_later_start_is_empty(spark):
    # DuckDB's generate_series from a later start to an earlier end has no element; Spark's
    # SEQUENCE raises unless the executor bounds it.
    sql = ("SELECT k, CAST(UNNEST(generate_series(s, e, INTERVAL '1' MONTH)) AS DATE) AS d FROM (VALUES "
           "(1, DATE '2024-01-15', DATE '2024-03-20'), (2, DATE '2024-05-01', DATE '2024-03-01'), "
           "(3, DATE '2024-02-29', DATE '2024-02-29'), (4, NULL, DATE '2024-01-01')) AS t(k, s, e) ORDER BY k, d")
    import datetime as dt

    expected = [(1, dt.date(2024, 1, 15)), (1, dt.date(2024, 2, 15)), (1, dt.date(2024, 3, 15)),
                (3, dt.date(2024, 2, 29))]
    assert duckdb.sql(sql).fetchall() == expected
    assert SparkExecutor(SparkSettings()).rows(sql) == expected


def test_a_parenthesized_interval(spark):
    # DuckDB renders a negative day step as INTERVAL (-1) DAY, which Spark cannot parse.
    sql = ("SELECT CAST(d + INTERVAL (-1) DAY AS DATE) AS before, CAST(d + INTERVAL (2) DAY AS DATE) AS after "
           "FROM (VALUES (DATE '2024-03-01')) AS t(d)")
    import datetime as dt

    expected = [(dt.date(2024, 2, 29), dt.date(2024, 3, 3))]
    assert duckdb.sql(sql).fetchall() == expected
    assert SparkExecutor(SparkSettings()).rows(sql) == expected
