"""Tests for asemic_core.sql.expressions.

Every BigQuery function is executed on DuckDB after translation and compared with a value
computed by hand (the comment next to each case says how).
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from asemic_core.sql.expressions import (
    KPI_AGGREGATES,
    ExpressionError,
    ParsedExpression,
    Placeholder,
    aggregate_name,
    find_aggregates,
    generate,
    is_aggregate_expression,
    iter_placeholder_nodes,
    is_constant,
    node_position,
    parse_expression,
    placeholders_in,
    placeholders_outside_aggregates,
    render,
    to_tree,
)

# --------------------------------------------------------------------------------------
# DuckDB fixtures
# --------------------------------------------------------------------------------------

_CON: duckdb.DuckDBPyConnection | None = None


def con() -> duckdb.DuckDBPyConnection:
    """One in-memory database for the module (plain function so hypothesis can use it)."""
    global _CON
    if _CON is None:
        c = duckdb.connect()
        # One row of scalar inputs.  2026-01-04 is a Sunday, 2026-01-05 a Monday,
        # 2026-01-10 a Saturday.
        c.execute(
            """
            CREATE TABLE one AS SELECT
                5::INTEGER AS a, 2::INTEGER AS b, 0::INTEGER AS z, NULL::INTEGER AS nul,
                7::BIGINT AS big, DATE '2026-01-10' AS d, DATE '2026-01-05' AS r,
                DATE '2026-01-04' AS sun, 2.5::DOUBLE AS x, -2.5::DOUBLE AS neg,
                'iOS' AS s, 'ios' AS p, TIMESTAMP '2026-01-10 13:45:00' AS ts
            """
        )
        # Event rows for aggregates.
        c.execute(
            """
            CREATE TABLE ev AS SELECT * FROM (VALUES
                (1, 10,   'ios',     'k'),
                (1, 20,   'ios',     'k'),
                (2, 5,    'android', 'k'),
                (3, NULL, 'ios',     'k'),
                (3, 7,    NULL,      'k'),
                (3, 3,    'web',     'k')
            ) AS t(u, amt, plat, k)
            """
        )
        _CON = c
    return _CON


def column(namespace: str | None, name: str) -> exp.Expression:
    return exp.column(name, table="e", quoted=True)


def evaluate(text: str, table: str = "one", *, allow_aggregates: bool | None = None):
    parsed = parse_expression(
        text, allow_aggregates=table == "ev" if allow_aggregates is None else allow_aggregates
    )
    sql = render(parsed, column)
    rows = con().execute(f"SELECT {sql} AS v FROM {table} AS e").fetchall()
    assert len(rows) == 1
    return rows[0][0]


def refused(text: str, *, allow_aggregates: bool = True, **kwargs) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, allow_aggregates=allow_aggregates, **kwargs)
    return info.value


# --------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------


def test_placeholders_in_order_with_namespaces_and_spans():
    text = "SAFE_DIVIDE(SUM({property.revenue_on_day}), COUNT({property.dau_active})) * 100"
    parsed = parse_expression(text, allow_aggregates=True)
    assert isinstance(parsed, ParsedExpression)
    assert isinstance(parsed.tree, exp.Expression)
    assert parsed.placeholders == (
        Placeholder("property", "revenue_on_day"),
        Placeholder("property", "dau_active"),
    )
    assert parsed.placeholders[0] == ("property", "revenue_on_day")
    for placeholder, (start, end) in zip(parsed.placeholders, parsed.spans):
        assert text[start:end] == str(placeholder)


def test_plain_placeholders_duplicates_and_references():
    parsed = parse_expression("{a} + {b} * {a}", allow_aggregates=False)
    assert parsed.placeholders == (
        Placeholder(None, "a"),
        Placeholder(None, "b"),
        Placeholder(None, "a"),
    )
    assert parsed.references == [Placeholder(None, "a"), Placeholder(None, "b")]
    assert str(Placeholder(None, "a")) == "{a}"
    assert str(Placeholder("kpi", "k")) == "{kpi.k}"


def test_keyword_named_placeholders_and_inner_whitespace():
    parsed = parse_expression("{date} >= { select } AND {kpi.drop} > 0", allow_aggregates=False)
    assert parsed.placeholders == (
        Placeholder(None, "date"),
        Placeholder(None, "select"),
        Placeholder("kpi", "drop"),
    )


def test_braces_inside_strings_and_comments_are_not_placeholders():
    parsed = parse_expression("{p} = '{not_a_placeholder}' -- {nor_this}\n", allow_aggregates=False)
    assert parsed.placeholders == (Placeholder(None, "p"),)
    assert evaluate("CONCAT({p}, '{x}')") == "ios{x}"


def test_comments_never_reach_the_output():
    parsed = parse_expression("{a} /* note */ + 1 -- trailing", allow_aggregates=False)
    assert render(parsed, column) == '"e"."a" + 1'


def test_countd_is_normalised_to_count_distinct():
    parsed = parse_expression("COUNTD({property.entity_id})", allow_aggregates=True)
    assert isinstance(parsed.tree, exp.Count)
    assert isinstance(parsed.tree.this, exp.Distinct)
    assert not list(parsed.tree.find_all(exp.Anonymous))
    assert render(parsed, column) == 'COUNT(DISTINCT "e"."entity_id")'
    nested = parse_expression("1 + countd({a})", allow_aggregates=True)
    assert render(nested, column) == '1 + COUNT(DISTINCT "e"."a")'


def test_namespaces_restriction():
    parse_expression("{property.x} > 1", allow_aggregates=False, namespaces={"property"})
    error = refused("{kpi.x} > 1", namespaces={"property"})
    assert "namespace 'kpi'" in error.message and "{property.name}" in error.message
    assert error.position == 0
    error = refused("{x} > 1", namespaces={"property", "kpi"})
    assert "namespace '(none)'" in error.message
    parse_expression("{x} > 1", allow_aggregates=False, namespaces={None})


# --------------------------------------------------------------------------------------
# Refusals: each message is specific, positions point at the offending text
# --------------------------------------------------------------------------------------

REFUSALS = [
    # (text, allow_aggregates, message fragment, position)
    ("", True, "Empty expression", None),
    ("   \n ", True, "Empty expression", None),
    ("-- only a comment", True, "Empty expression (only comments", None),
    ("1; DROP TABLE x", True, "';' is not allowed", 1),
    ("{a};", True, "';' is not allowed", 3),
    ("{a} /* ; */ + 1", True, "';' is not allowed, not even in a comment", 7),
    ("DROP TABLE x", True, "SQL statement keyword DROP is not allowed", 0),
    ("CREATE TABLE t (a INT)", True, "SQL statement keyword CREATE", 0),
    ("INSERT INTO x VALUES (1)", True, "SQL statement keyword INSERT", 0),
    ("UPDATE t SET a = 1", True, "SQL statement keyword UPDATE", 0),
    ("DELETE FROM t", True, "SQL statement keyword DELETE", 0),
    ("MERGE INTO t USING s ON TRUE", True, "SQL statement keyword MERGE", 0),
    ("ALTER TABLE t ADD COLUMN c INT", True, "SQL statement keyword ALTER", 0),
    ("TRUNCATE TABLE t", True, "SQL statement keyword TRUNCATE", 0),
    ("ATTACH 'file.db'", True, "SQL statement keyword ATTACH", 0),
    ("COPY t TO 'out.csv'", True, "SQL statement keyword COPY", 0),
    ("PRAGMA version", True, "SQL statement keyword PRAGMA", 0),
    ("CALL f()", True, "SQL statement keyword CALL", 0),
    ("EXPORT DATA OPTIONS() AS SELECT 1", True, "SQL statement keyword EXPORT", 0),
    ("{a} + 1 AND DROP", True, "SQL statement keyword DROP", 12),
    ("(SELECT 1)", True, "Subqueries are not allowed (SELECT found)", 1),
    ("{a} IN (SELECT id FROM users)", True, "Subqueries are not allowed", 8),
    ("EXISTS(SELECT 1)", True, "Subqueries are not allowed", 7),
    ("WITH q AS (SELECT 1) SELECT 1", True, "Subqueries are not allowed (WITH found)", 0),
    ("1 UNION ALL SELECT 2", True, "Set operations (UNION)", 2),
    ("x FROM t", True, "FROM is not allowed: an expression cannot read from a table", 2),
    ("{a} FROM t", True, "FROM is not allowed", 4),
    ("t.x", True, "Reference to table column t.x is not allowed", 0),
    ("{a} + db.t.x", True, "Reference to table column db.t.x is not allowed", 6),
    ("x + 1", True, "Unknown name 'x': reference columns and properties as {x}", 0),
    ("`amount` > 1", True, "Unknown name 'amount'", 0),
    ("SUM(SUM({x}))", True, "Nested aggregate: SUM inside SUM is not allowed", 4),
    ("MAX(COUNTD({x}))", True, "Nested aggregate: COUNTD inside MAX", 4),
    ("SUM({a})", False, "Aggregate function SUM is not allowed here", 0),
    ("{a} + COUNTD({b})", False, "Aggregate function COUNTD is not allowed here", 6),
    ("COUNT(*)", False, "Aggregate function COUNT is not allowed here", 0),
    ("{a} OVER ()", True, "Window functions (OVER) are not allowed", 4),
    ("SUM({a}) OVER (PARTITION BY {b})", True, "Window functions (OVER) are not allowed", 9),
    ("ROW_NUMBER()", True, "ROW_NUMBER is a window function", 0),
    ("{unclosed", True, "Unclosed placeholder: '{' without a matching '}'", 0),
    ("{a} + {b", True, "Unclosed placeholder", 6),
    ("{a}} + 1", True, "Unbalanced '}'", 3),
    ("{a{b}}", True, "Nested '{' inside a placeholder", 2),
    ("{}", True, "Empty placeholder '{}'", 0),
    ("{a..b}", True, "Invalid placeholder '{a..b}'", 0),
    ("{a-b}", True, "Invalid placeholder '{a-b}'", 0),
    ("{1abc}", True, "Invalid placeholder '{1abc}'", 0),
    ("e.{a}", True, "must not be glued to the preceding '.'", 2),
    ("{a}.field", True, "must not be glued to the following '.'", 0),
    ("x{a}", True, "must not be glued to the preceding 'x'", 1),
    ("{a}(1)", True, "A placeholder cannot be used as a function name", 0),
    ("CAST({a} AS {t})", True, "Syntax error near '{t}'", 12),
    (
        "DATE_DIFF({a}, {b}, {unit})",
        True,
        "Placeholder {unit} is used as a function name, type, date part",
        20,
    ),
    ("1 +", True, "Syntax error at the end of the expression", 3),
    ("CASE WHEN {a} THEN 1", True, "Syntax error near '1': Expected END after CASE", 19),
    ("{abc} + (1 + 2", True, "Unclosed '(' without a matching ')'", 8),
    ("1) + (2", True, "Unbalanced ')' without a matching '('", 1),
    ("REPEAT {a}", True, "SQL statement keyword REPEAT", 0),
    ("1, 2", True, "A comma-separated list is not allowed", 1),
    ("1 AS x", True, "Aliases (`expr AS name` or `expr name`) are not allowed", 5),
    ("{a} {b}", True, "Aliases", 4),
    ("'unterminated", True, "unterminated string literal", 0),
    ("{a} = 'it''s", True, "Cannot tokenize expression", None),
    ("@param + 1", True, "Query parameters", 0),
    ("{a} = ?", True, "Query parameters", 6),
    ("foo({a})", True, "Unknown function FOO", 0),
    ("current_setting('threads')", True, "Unknown function CURRENT_SETTING", 0),
    ("READ_CSV('/etc/passwd')", True, "Function READ_CSV is not allowed", 0),
    ("COUNTD(*)", True, "COUNTD takes exactly one argument", 0),
    ("COUNTD({a}, {b})", True, "COUNTD takes exactly one argument", 0),
    ("*", True, "'*' is only allowed in COUNT(*)", 0),
    ("SUM({a}) FILTER (WHERE {a} > 1)", True, "FILTER clauses are not supported", 0),
]


@pytest.mark.parametrize(("text", "allow_aggregates", "fragment", "position"), REFUSALS)
def test_refusals(text, allow_aggregates, fragment, position):
    error = refused(text, allow_aggregates=allow_aggregates)
    assert fragment in error.message, error.message
    if position is not None:
        assert error.position == position, (error.position, error.message)
    assert isinstance(error, ValueError)


def test_error_str_mentions_position():
    error = refused("{a} + t.x")
    assert str(error) == (
        "Reference to table column t.x is not allowed: expressions may only use "
        "{placeholders} (at character 6)"
    )


def test_syntax_error_includes_sqlglot_message_and_maps_positions_past_placeholders():
    error = refused("{a_long_placeholder} +\n  SUM(1 2)")
    assert error.message == "Syntax error near '2': Expecting )"
    assert error.position == 31  # the '2' on the second line of the original text


def test_function_names_that_are_also_script_keywords():
    # sqlglot tokenizes a leading REPEAT as a scripting command; it must stay a function
    assert evaluate("REPEAT({p}, 2)") == "iosios"
    assert evaluate("REPEAT('ab', 2) || {p}") == "ababios"


def test_non_string_input():
    with pytest.raises(ExpressionError, match="must be a string"):
        parse_expression(None, allow_aggregates=True)  # type: ignore[arg-type]


def test_deep_nesting_does_not_crash():
    text = "(" * 5000 + "1" + ")" * 5000
    try:
        parse_expression(text, allow_aggregates=False)
    except ExpressionError as error:
        assert "nested too deeply" in error.message or "Syntax error" in error.message


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def test_kpi_aggregates():
    assert KPI_AGGREGATES == {"SUM", "AVG", "COUNT", "COUNTD", "MIN", "MAX"}


def test_find_aggregates_and_names():
    parsed = parse_expression(
        "SAFE_DIVIDE(SUM({property.a}), COUNTD({property.u})) + MAX({property.b}) "
        "- COUNT(*) + AVG(1) - MIN({property.c}) + COUNT(DISTINCT {property.d}) "
        "+ COUNTIF({property.a} > 0)",
        allow_aggregates=True,
    )
    aggregates = find_aggregates(parsed)
    names = [aggregate_name(node) for node in aggregates]
    assert names == ["SUM", "COUNTD", "MAX", "COUNT", "AVG", "MIN", "COUNTD", "COUNTIF"]
    assert [name for name in names if name not in KPI_AGGREGATES] == ["COUNTIF"]
    assert placeholders_in(parsed, aggregates[0]) == [Placeholder("property", "a")]
    assert placeholders_in(parsed, aggregates[3]) == []
    assert node_position(parsed, aggregates[2]) == parsed.text.index("MAX")


def test_aggregate_names_of_other_functions():
    parsed = parse_expression(
        "LOGICAL_OR({a}) AND LOGICAL_AND({b}) AND ANY_VALUE({c}) > APPROX_COUNT_DISTINCT({d})",
        allow_aggregates=True,
    )
    assert [aggregate_name(a) for a in find_aggregates(parsed)] == [
        "LOGICAL_OR",
        "LOGICAL_AND",
        "ANY_VALUE",
        "APPROX_COUNT_DISTINCT",
    ]


def test_placeholders_outside_aggregates():
    parsed = parse_expression("SUM({a}) + {b} * COUNT({c}) - {a}", allow_aggregates=True)
    assert placeholders_outside_aggregates(parsed) == [
        Placeholder(None, "b"),
        Placeholder(None, "a"),
    ]
    kpi = parse_expression("{kpi.a} - SUM({property.x})", allow_aggregates=True)
    assert placeholders_outside_aggregates(kpi) == [Placeholder("kpi", "a")]


@pytest.mark.parametrize(
    ("text", "aggregate", "constant"),
    [
        ("COUNT(*)", True, False),
        ("SUM({a}*{b})/SUM({b})", True, False),
        ("SAFE_DIVIDE(SUM({a}), COUNT({b})) * 100", True, False),
        ("SUM({a}) + {b}", False, False),
        ("{a} + 1", False, False),
        ("1", False, True),
        ("1 + 2 * 3", False, True),
        ("'x'", False, True),
    ],
)
def test_is_aggregate_expression_and_is_constant(text, aggregate, constant):
    parsed = parse_expression(text, allow_aggregates=True)
    assert is_aggregate_expression(parsed) is aggregate
    assert is_constant(parsed) is constant


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def test_render_replaces_placeholders_with_resolved_columns():
    parsed = parse_expression("SUM({amount_usd})", allow_aggregates=True)
    assert render(parsed, column) == 'SUM("e"."amount_usd")'
    assert render(parsed, column, "duckdb") == 'SUM("e"."amount_usd")'


def test_resolve_is_called_once_per_distinct_placeholder():
    calls = []

    def resolve(namespace, name):
        calls.append((namespace, name))
        return exp.column(name, quoted=True)

    parsed = parse_expression("{a} + {b} * {a}", allow_aggregates=False)
    assert render(parsed, resolve) == '"a" + "b" * "a"'
    assert calls == [(None, "a"), (None, "b")]


def test_resolve_must_return_an_expression():
    parsed = parse_expression("{a} + 1", allow_aggregates=False)
    with pytest.raises(TypeError, match="must return a sqlglot expression"):
        render(parsed, lambda ns, name: "a")  # type: ignore[arg-type,return-value]


def test_sub_expressions_are_parenthesised():
    # {kpi.a} - {kpi.b} with b = 7 - 2: 10 - (7 - 2) = 5, not 10 - 7 - 2 = 1.
    parsed = parse_expression("{kpi.a} - {kpi.b}", allow_aggregates=True)
    values = {
        "a": exp.Literal.number(10),
        "b": exp.Sub(this=exp.Literal.number(7), expression=exp.Literal.number(2)),
    }
    sql = render(parsed, lambda ns, name: values[name])
    assert sql == "10 - (7 - 2)"
    assert con().execute(f"SELECT {sql}").fetchall() == [(5,)]
    # a negative number literal is parenthesised too: 3 - (-2) = 5
    negative = render(parsed, lambda ns, name: exp.Literal.number(3 if name == "a" else -2))
    assert con().execute(f"SELECT {negative}").fetchall() == [(5,)]


def test_inlined_kpis_compose_through_to_tree():
    # kpi.b = SUM(amt) - MIN(amt) = 45 - 3 = 42 ; kpi.a = COUNT(*) = 6 ; a - b = -36
    kpi_b = parse_expression("SUM({property.amt}) - MIN({property.amt})", allow_aggregates=True)
    kpi_a = parse_expression("COUNT(*)", allow_aggregates=True)
    trees = {"a": to_tree(kpi_a, column), "b": to_tree(kpi_b, column)}
    outer = parse_expression("{kpi.a} - {kpi.b}", allow_aggregates=True)
    sql = render(outer, lambda ns, name: trees[name])
    assert sql == 'COUNT(*) - (SUM("e"."amt") - MIN("e"."amt"))'
    assert con().execute(f"SELECT {sql} FROM ev AS e").fetchall() == [(-36,)]


def test_dialect_fixes_are_not_applied_twice_to_resolved_sub_trees():
    # inner: day of week of Sunday 2026-01-04 = 1 (BigQuery); outer: inner * 10 = 10
    inner_parsed = parse_expression("EXTRACT(DAYOFWEEK FROM {sun})", allow_aggregates=False)
    inner = to_tree(inner_parsed, column)
    outer = parse_expression("{x} * 10", allow_aggregates=False)
    sql = render(outer, lambda ns, name: inner)
    assert con().execute(f"SELECT {sql} FROM one AS e").fetchall() == [(10,)]


def test_to_tree_composes_into_larger_queries_and_does_not_mutate_parsed():
    parsed = parse_expression("SAFE_DIVIDE(SUM({amt}), COUNTD({u}))", allow_aggregates=True)
    before = parsed.tree.sql("bigquery")
    tree = to_tree(parsed, column)
    query = exp.select(tree.as_("v")).from_("ev AS e")
    # 45 / 3 distinct users = 15.0
    assert con().execute(query.sql("duckdb")).fetchall() == [(15.0,)]
    assert parsed.tree.sql("bigquery") == before
    assert render(parsed, column) == render(parsed, column)


def test_on_aggregate_hook_restricts_each_aggregate():
    parsed = parse_expression("SAFE_DIVIDE(SUM({amt}), COUNT({u}))", allow_aggregates=True)
    seen = []

    def restrict(index, aggregate):
        seen.append((index, aggregate.sql("duckdb")))
        if index == 0:  # only the numerator is restricted to iOS rows
            condition = exp.EQ(this=column(None, "plat"), expression=exp.Literal.string("ios"))
            return exp.Filter(this=aggregate, expression=exp.Where(this=condition))
        return aggregate

    sql = render(parsed, column, on_aggregate=restrict)
    assert seen == [(0, 'SUM("e"."amt")'), (1, 'COUNT("e"."u")')]
    # iOS amounts 10 + 20 (+ NULL) = 30 over 6 rows = 5.0
    assert con().execute(f"SELECT {sql} FROM ev AS e").fetchall() == [(5.0,)]


def test_render_to_spark_does_not_crash():
    parsed = parse_expression(
        "SAFE_DIVIDE(SUM(IF({platform} = 'ios', {amount}, 0)), COUNTD({entity_id})) * 100 "
        "+ DATE_DIFF({date}, {registration_date}, DAY) + DIV(7, 2) + ROUND(2.5)",
        allow_aggregates=True,
    )
    sql = render(parsed, column, "spark")
    assert "COUNT(DISTINCT `e`.`entity_id`)" in sql
    assert "NULLIF(" in sql
    tree = to_tree(parsed, column, "spark")
    assert isinstance(tree, exp.Expression)


def test_iter_placeholder_nodes_and_placeholder_of():
    parsed = parse_expression("{a} + SUM({kpi.b})", allow_aggregates=True)
    pairs = list(iter_placeholder_nodes(parsed))
    assert {p for _, p in pairs} == {Placeholder(None, "a"), Placeholder("kpi", "b")}
    for node, placeholder in pairs:
        assert parsed.placeholder_of(node) == placeholder
        assert parsed.text[node_position(parsed, node) :].startswith(str(placeholder))
    assert parsed.placeholder_of(parsed.tree) is None


def test_untranslatable_functions_raise_expression_error_instead_of_bad_sql():
    assert generate(exp.column("a", quoted=True), "duckdb") == '"a"'
    parsed = parse_expression("SOUNDEX({p})", allow_aggregates=False)
    with pytest.raises(ExpressionError, match="Cannot translate expression to duckdb: SOUNDEX"):
        render(parsed, column)
    # generator crashes on malformed trees surface as ExpressionError too
    with pytest.raises(ExpressionError, match="sqlglot failed with KeyError"):
        generate(exp.Stuff(this=exp.Literal.string("a")), "duckdb")


def test_rendering_never_embeds_raw_user_text():
    # string contents are re-escaped by the generator, quotes cannot break out
    parsed = parse_expression(r"{p} = 'x\' OR 1=1 --'", allow_aggregates=False)
    sql = render(parsed, column)
    assert sql == "\"e\".\"p\" = 'x'' OR 1=1 --'"
    assert con().execute(f"SELECT {sql} FROM one AS e").fetchall() == [(False,)]


# --------------------------------------------------------------------------------------
# BigQuery semantics executed on DuckDB (one row: a=5, b=2, z=0, nul=NULL, big=7,
# d=2026-01-10 (Sat), r=2026-01-05 (Mon), sun=2026-01-04 (Sun), x=2.5, neg=-2.5,
# s='iOS', p='ios', ts=2026-01-10 13:45)
# --------------------------------------------------------------------------------------

SCALAR_CASES = [
    # SAFE_DIVIDE: NULL for a zero or NULL divisor, float division otherwise
    ("SAFE_DIVIDE({a}, {b})", 2.5),  # 5 / 2
    ("SAFE_DIVIDE({a}, {z})", None),  # divisor 0
    ("SAFE_DIVIDE({a}, {nul})", None),  # divisor NULL
    ("SAFE_DIVIDE({nul}, {b})", None),  # dividend NULL
    ("SAFE_DIVIDE({a} + 1, {b} + 1)", 2.0),  # 6 / 3
    ("10 / SAFE_DIVIDE({a}, {b})", 4.0),  # 10 / 2.5
    ("SAFE_DIVIDE(10, 4) * 2", 5.0),  # 2.5 * 2
    # integer / integer is a float
    ("{a} / {b}", 2.5),
    ("5 / 2", 2.5),
    ("{big} / {b}", 3.5),  # BIGINT 7 / 2
    ("-{a} / {b}", -2.5),
    ("{a} / {b} * {b}", 5.0),
    # DIV: integer division truncating towards zero
    ("DIV({a}, {b})", 2),
    ("DIV(-{a}, {b})", -2),
    ("DIV({a} + 1, 2)", 3),  # 6 div 2, not 1 + (5 div 2)
    ("3 * DIV(10, 4)", 6),  # 3 * 2, not (3 * 10) div 4 = 7
    ("DIV(10, 1 + 1) * 3", 15),  # (10 div 2) * 3
    ("MOD(-5, 3)", -2),  # sign of the dividend
    # DATE_DIFF(a, b, part) = a - b in part boundaries
    ("DATE_DIFF({d}, {r}, DAY)", 5),  # Jan 10 - Jan 5
    ("DATE_DIFF({r}, {d}, DAY)", -5),
    ("DATE_DIFF({d}, {sun}, WEEK)", 0),  # Sun Jan 4 and Sat Jan 10: same Sunday-week
    ("DATE_DIFF(DATE '2026-01-11', {d}, WEEK)", 1),  # Sun Jan 11 starts a new week
    ("DATE_DIFF(DATE '2026-03-01', DATE '2026-01-31', MONTH)", 2),  # Jan -> Mar
    ("DATE_DIFF(DATE '2027-01-01', DATE '2026-12-31', YEAR)", 1),
    ("DATE_DIFF('2026-01-10', '2026-01-05', DAY)", 5),  # string literals coerced
    # IF / CASE / COALESCE / IFNULL
    ("IF({a} > 3, 'big', 'small')", "big"),
    ("IF({a} > 30, 'big', 'small')", "small"),
    ("IF({nul} > 0, 1, 2)", 2),  # NULL condition takes the else branch
    ("IF({a} > 3, 1, 0) + 1", 2),
    ("CASE WHEN {a} > 3 THEN 'x' ELSE 'y' END", "x"),
    ("CASE {a} WHEN 5 THEN 'five' WHEN 6 THEN 'six' END", "five"),
    ("CASE {a} WHEN 6 THEN 'six' END", None),
    ("COALESCE({nul}, {a}, 1)", 5),
    ("IFNULL({nul}, 7)", 7),
    ("IFNULL({a}, 7)", 5),
    ("NULLIF({a}, 5)", None),
    # date arithmetic keeps DATE
    ("DATE_ADD({r}, INTERVAL 3 DAY)", dt.date(2026, 1, 8)),
    ("DATE_SUB({r}, INTERVAL 5 DAY)", dt.date(2025, 12, 31)),
    ("DATE_ADD(DATE '2026-01-31', INTERVAL 1 MONTH)", dt.date(2026, 2, 28)),  # clamped
    ("DATE_ADD({r}, INTERVAL -2 DAY)", dt.date(2026, 1, 3)),
    ("{r} + 1", dt.date(2026, 1, 6)),
    ("{r} - 1", dt.date(2026, 1, 4)),
    ("DATE_TRUNC({d}, MONTH)", dt.date(2026, 1, 1)),
    ("DATE_TRUNC({d}, WEEK)", dt.date(2026, 1, 4)),  # Sunday-started week
    ("DATE_TRUNC({d}, WEEK(MONDAY))", dt.date(2026, 1, 5)),
    ("DATE_TRUNC({d}, ISOWEEK)", dt.date(2026, 1, 5)),
    ("DATE_TRUNC({d}, YEAR)", dt.date(2026, 1, 1)),
    # date comparison with string and DATE literals
    ("{d} >= '2026-01-05'", True),
    ("{r} > '2026-01-05'", False),
    ("{d} = DATE '2026-01-10'", True),
    ("{d} >= DATE '2026-01-05'", True),
    ("{d} BETWEEN '2026-01-01' AND '2026-01-31'", True),
    ("{d} IN ('2026-01-10', '2026-01-11')", True),
    # CAST
    ("CAST({a} AS FLOAT64)", 5.0),
    ("CAST({a} AS STRING)", "5"),
    ("CAST('12' AS INT64)", 12),
    ("CAST(2.5 AS INT64)", 3),  # BigQuery rounds half away from zero
    ("CAST(-2.5 AS INT64)", -3),
    ("CAST(2.4 AS INT64)", 2),
    ("CAST({a} / {b} AS INT64)", 3),  # 2.5 -> 3
    ("CAST(SAFE_DIVIDE({a}, {b}) AS INT64)", 3),
    ("SAFE_CAST('x' AS INT64)", None),
    # IN / NOT IN / LIKE / string functions
    ("{p} IN ('ios', 'android')", True),
    ("{p} NOT IN ('ios', 'android')", False),
    ("{s} LIKE 'i%'", True),
    ("LOWER({s})", "ios"),
    ("UPPER({s})", "IOS"),
    ("CONCAT({p}, '-', 'x')", "ios-x"),
    ("CONCAT({p}, NULL)", None),  # BigQuery CONCAT is NULL if any argument is NULL
    ("LENGTH({s})", 3),
    ("SUBSTR({s}, 2, 1)", "O"),
    # ROUND / ABS / LEAST / GREATEST
    ("ROUND(2.345, 2)", 2.35),
    ("ROUND({x})", 3.0),  # half away from zero
    ("ROUND({neg})", -3.0),
    ("ROUND(2.5)", 3.0),
    ("ROUND({a} / 3, 1)", 1.7),  # 1.666.. -> 1.7
    ("ABS(-3)", 3),
    ("ABS({neg})", 2.5),
    ("LEAST(3, {a}, 1)", 1),
    ("GREATEST(3, {a})", 5),
    ("GREATEST(1, {nul})", None),  # BigQuery: NULL if any argument is NULL
    ("LEAST({a}, {nul})", None),
    # EXTRACT
    ("EXTRACT(DAYOFWEEK FROM {sun})", 1),  # BigQuery: Sunday = 1
    ("EXTRACT(DAYOFWEEK FROM {r})", 2),  # Monday
    ("EXTRACT(DAYOFWEEK FROM {d})", 7),  # Saturday
    ("EXTRACT(DAYOFWEEK FROM {d}) * 10", 70),
    ("EXTRACT(DAYOFWEEK FROM {ts})", 7),
    ("EXTRACT(YEAR FROM {d})", 2026),
    ("EXTRACT(MONTH FROM {d})", 1),
    ("EXTRACT(DAY FROM {d})", 10),
    ("EXTRACT(DAYOFYEAR FROM {d})", 10),
    ("EXTRACT(QUARTER FROM DATE '2026-05-04')", 2),
    ("EXTRACT(WEEK FROM DATE '2026-01-03')", 0),  # before the first Sunday (Jan 4)
    ("EXTRACT(WEEK FROM {sun})", 1),
    ("EXTRACT(WEEK FROM DATE '2026-12-31')", 52),
    ("EXTRACT(WEEK(MONDAY) FROM {sun})", 0),  # before the first Monday (Jan 5)
    ("EXTRACT(WEEK(MONDAY) FROM {r})", 1),
    ("EXTRACT(ISOWEEK FROM {sun})", 1),  # ISO week 1 of 2026 holds Thu Jan 1 .. Sun Jan 4
    ("EXTRACT(ISOWEEK FROM DATE '2025-12-29')", 1),
    ("EXTRACT(HOUR FROM {ts})", 13),
    # FORMAT_DATE
    ("FORMAT_DATE('%Y-%m', {d})", "2026-01"),
    ("FORMAT_DATE('%Y%m%d', {r})", "20260105"),
    # float literals are FLOAT64
    ("0.1 + 0.2", 0.1 + 0.2),  # 0.30000000000000004, not an exact DECIMAL 0.3
    ("1.5 * 2", 3.0),
    ("{a} > 4.5", True),
    # boolean logic
    ("{a} > 1 AND NOT {b} > 3 OR FALSE", True),
    ("{nul} IS NULL", True),
]


@pytest.mark.parametrize(("text", "expected"), SCALAR_CASES)
def test_bigquery_scalar_semantics_on_duckdb(text, expected):
    value = evaluate(text)
    if expected is None:
        assert value is None
    elif isinstance(expected, float):
        assert isinstance(value, float), (value, type(value))
        assert value == pytest.approx(expected, rel=1e-12)
        if text == "0.1 + 0.2":
            assert value == expected and value != 0.3
    elif isinstance(expected, dt.date):
        assert type(value) is dt.date, (value, type(value))  # DATE, not TIMESTAMP
        assert value == expected
    else:
        assert type(value) is type(expected), (value, type(value))
        assert value == expected


AGGREGATE_CASES = [
    # ev: u = 1,1,2,3,3,3 ; amt = 10,20,5,NULL,7,3 ; plat = ios,ios,android,ios,NULL,web
    ("SUM({amt})", 45),
    ("AVG({amt})", 9.0),  # 45 / 5 non-NULL values
    ("COUNT({amt})", 5),
    ("COUNT(*)", 6),
    ("MIN({amt})", 3),
    ("MAX({amt})", 20),
    ("COUNTD({u})", 3),
    ("COUNT(DISTINCT {u})", 3),
    ("COUNTD({plat})", 3),  # ios, android, web (NULL ignored)
    ("SUM({amt}) / COUNT({amt})", 9.0),  # integer / integer -> float
    ("SUM({amt}) / COUNT(*)", 7.5),
    ("SAFE_DIVIDE(SUM({amt}), COUNTD({u})) * 100", 1500.0),  # 45 / 3 * 100
    ("SAFE_DIVIDE(SUM({amt}), SUM(IF({amt} > 100, 1, 0)))", None),  # 0 rows > 100
    ("SUM({amt} * 2) / SUM({amt})", 2.0),
    ("COUNTIF({amt} > 6)", 3),  # 10, 20, 7
    ("COUNTIF({plat} = 'ios')", 3),
    ("LOGICAL_OR({plat} = 'web')", True),
    ("LOGICAL_OR({amt} > 100)", False),
    ("LOGICAL_AND({amt} > 2)", True),  # NULL ignored
    ("LOGICAL_AND({amt} > 4)", False),  # 3
    ("APPROX_COUNT_DISTINCT({u})", 3),
    ("ANY_VALUE({k})", "k"),
    ("SUM(IF({plat} = 'ios', {amt}, 0))", 30),
    ("MAX({amt}) - MIN({amt})", 17),
]


@pytest.mark.parametrize(("text", "expected"), AGGREGATE_CASES)
def test_bigquery_aggregate_semantics_on_duckdb(text, expected):
    value = evaluate(text, "ev")
    if expected is None:
        assert value is None
    elif isinstance(expected, float):
        assert isinstance(value, float), (value, type(value))
        assert value == pytest.approx(expected, rel=1e-12)
    elif isinstance(expected, bool):
        assert value is expected
    else:
        assert value == expected
        assert not isinstance(value, float)


def test_integer_division_is_float_for_every_integer_type():
    c = con()
    for sql_type in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT"):
        parsed = parse_expression("{p} / {q}", allow_aggregates=False)
        sql = render(parsed, lambda ns, name: exp.column(name, table="t", quoted=True))
        rows = c.execute(
            f"SELECT {sql}, typeof({sql}) FROM (SELECT 7::{sql_type} AS p, 2::{sql_type} AS q) AS t"
        ).fetchall()
        assert rows == [(3.5, "DOUBLE")], sql_type


def test_cast_to_int64_of_a_typed_float_column_rounds_half_away_from_zero():
    # x = 2.5 and neg = -2.5 (DOUBLE): BigQuery CAST(... AS INT64) gives 3 and -3.
    parsed = parse_expression(
        "CAST({x} AS INT64) * 10 + CAST({neg} AS INT64)", allow_aggregates=False
    )

    def typed(namespace, name):
        node = column(namespace, name)
        node.type = exp.DataType.build("DOUBLE")
        return node

    sql = render(parsed, typed)
    assert con().execute(f"SELECT {sql} FROM one AS e").fetchall() == [(27,)]  # 30 - 3
    # integer and string inputs are cast as they are
    assert evaluate("CAST({a} AS INT64)") == 5
    assert evaluate("CAST(CAST({a} AS STRING) AS INT64)") == 5


def test_placeholder_inside_interval():
    # Jan 5 + a (= 5) days = Jan 10
    assert evaluate("DATE_ADD({r}, INTERVAL {a} DAY)") == dt.date(2026, 1, 10)


def test_safe_divide_denominator_is_not_duplicated():
    parsed = parse_expression("SAFE_DIVIDE({kpi.a}, {kpi.b})", allow_aggregates=True)
    sql = render(parsed, column)
    assert sql.count('"e"."b"') == 1


# --------------------------------------------------------------------------------------
# Property: SAFE_DIVIDE(a, b) == a / b (or NULL when b == 0)
# --------------------------------------------------------------------------------------

_SAFE_DIVIDE = parse_expression("SAFE_DIVIDE({a}, {b})", allow_aggregates=False)
_EXACT = 2**53  # integers that DOUBLE represents exactly; the quotient is then exact-rounded


@settings(max_examples=200, deadline=None)
@given(st.integers(-_EXACT, _EXACT), st.integers(-_EXACT, _EXACT))
def test_safe_divide_matches_python(a, b):
    values = {"a": exp.Literal.number(a), "b": exp.Literal.number(b)}
    sql = render(_SAFE_DIVIDE, lambda ns, name: values[name])
    (value,) = con().execute(f"SELECT {sql}").fetchall()[0]
    if b == 0:
        assert value is None
    else:
        assert isinstance(value, float)
        assert value == a / b or (math.isnan(value) and math.isnan(a / b))


@settings(max_examples=50, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(-(2**31), 2**31 - 1))
def test_safe_divide_matches_python_on_integer_columns(a, b):
    sql = render(_SAFE_DIVIDE, lambda ns, name: exp.column(name, table="t", quoted=True))
    (value,) = con().execute(
        f"SELECT {sql} FROM (SELECT ?::INTEGER AS a, ?::INTEGER AS b) AS t", [a, b]
    ).fetchall()[0]
    assert value == (None if b == 0 else a / b)
