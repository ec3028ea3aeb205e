"""SQL for reading event tables: each table's rows, the implicit registration and
activity tables, and one GROUP BY per event table for its event properties.

Everything is a sqlglot tree; the caller renders it for the executing dialect.
"""

from __future__ import annotations

from sqlglot import exp

from asemic_core.names import quoted_table
from asemic_core.sql.literals import literal
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS, ResolvedEvent, ResolvedProject
from asemic_core.sql.expressions import parse_expression, to_tree
from asemic_core.sql.types import cast, sql_type, typed_null
from asemic_core.config.models import DataType
from asemic_core.sql.render import ENGINE_DIALECT

ROW_ALIAS = "e"


def quoted(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def named(name: str) -> exp.Table:
    """A table (a CTE) by its plain name, built without the parser (``exp.to_table`` and the
    builders' string arguments parse it)."""
    return exp.Table(this=exp.to_identifier(name))


def cte_name(name: str) -> exp.TableAlias:
    """A CTE's name for ``with_``, built without the parser (a string there is parsed)."""
    return exp.TableAlias(this=exp.to_identifier(name))


def join(select: exp.Select, table: exp.Expression, on: exp.Expression | None = None, side: str | None = None,
         kind: str | None = None) -> exp.Select:
    """``select`` (changed in place) joined to ``table`` (``side`` LEFT, ``kind`` CROSS...):
    the join node is built here; the builder's ``join_type`` text goes through the parser
    (~0.15 ms a join, several in every KPI query)."""
    select.append("joins", exp.Join(this=table, on=on, side=side, kind=kind))
    return select


def column_path(name: str, table: str | None = None) -> exp.Expression:
    """A column of an event table: ``level_started.level`` is field ``level`` of the STRUCT
    column ``level_started`` (each part quoted), as BigQuery's wide tables are read."""
    first, *fields = name.split(".")
    column = quoted(first, table)
    if not fields:
        return column
    return exp.Dot.build([column, *(exp.to_identifier(f, quoted=True) for f in fields)])


def event_date_expression(event: ResolvedEvent, alias: str = ROW_ALIAS) -> exp.Expression:
    """The event's date: its date column, else the timestamp's UTC date."""
    if event.date_column:
        return column_path(event.date_column, alias)
    return exp.Cast(this=column_path(event.timestamp_column, alias), to=sql_type(DataType.DATE))


def column_resolver(event: ResolvedEvent, alias: str = ROW_ALIAS, date_aliases: frozenset[str] = frozenset()):
    """Resolve ``{col}`` (and ``{date}``) in an expression over one event row."""

    def resolve(namespace: str | None, name: str) -> exp.Expression:
        written = name if namespace is None else f"{namespace}.{name}"
        column = event.column(written)
        if column is None and written in date_aliases:
            column = "date"
        if column is None:
            raise KeyError(written)
        if column == "date" and "date" not in event.columns:
            return event_date_expression(event, alias)
        # The implicit tables name their columns flat (`device.platform` is one column there).
        return quoted(column, alias) if event.implicit else column_path(column, alias)

    return resolve


def table_rows(event: ResolvedEvent, project: ResolvedProject, alias: str = ROW_ALIAS,
               dialect: str = ENGINE_DIALECT) -> exp.Select:
    """``SELECT * FROM <table> AS e WHERE <table where>``, implicit tables included."""
    if event.id == REGISTRATIONS and event.implicit:
        source = registrations_relation(project, dialect)
    elif event.id == ACTIVITY and event.implicit:
        source = activity_relation(project, dialect)
    else:
        source = quoted_table(event.table_name)
    query = exp.select(exp.Star()).from_(exp.alias_(source, alias, table=True) if not isinstance(source, exp.Table) else source.as_(alias))
    where = table_where(event, alias, dialect)
    return query.where(where) if where is not None else query


def _row_order(event: ResolvedEvent, alias: str = ROW_ALIAS) -> exp.Expression:
    """The table's row order where the warehouse has one; a constant otherwise (no tie-break)."""
    if event.row_order_column and not event.implicit:
        return exp.column(event.row_order_column, table=alias)
    return exp.Literal.number(0)


def table_where(event: ResolvedEvent, alias: str = ROW_ALIAS, dialect: str = ENGINE_DIALECT) -> exp.Expression | None:
    if not event.where:
        return None
    parsed = parse_expression(event.where, allow_aggregates=False)
    return to_tree(parsed, column_resolver(event, alias), dialect=dialect)


def _tagged(project: ResolvedProject, tag: str) -> list[ResolvedEvent]:
    return sorted((e for e in project.events.values() if tag in e.tags and not e.implicit), key=lambda e: e.id)


def registrations_relation(project: ResolvedProject, dialect: str = ENGINE_DIALECT, since=None) -> exp.Expression:
    """One row per user: the earliest event over the registration tables (ties: event id, row order).
    ``since`` (a date): only the rows of that day and later are read (the earliest of those)."""
    registration = project.events[REGISTRATIONS]
    extra = [c for c in registration.columns if c not in ("entity_id", "ts", "date")]
    branches = []
    for rank, event in enumerate(_tagged(project, "registration_event")):
        projections = [
            exp.alias_(column_path(event.entity_id_column, ROW_ALIAS), "entity_id", quoted=True),
            exp.alias_(cast(column_path(event.timestamp_column, ROW_ALIAS), DataType.DATETIME), "ts", quoted=True),
            exp.alias_(event_date_expression(event), "date", quoted=True),
            exp.alias_(exp.Literal.number(rank), "__table_rank", quoted=True),
            exp.alias_(_row_order(event), "__row", quoted=True),
        ]
        for name in extra:
            value = column_path(name, ROW_ALIAS) if name in event.registration_columns else typed_null(registration.columns[name])
            projections.append(exp.alias_(cast(value, registration.columns[name]), name, quoted=True))
        branch = exp.select(*projections).from_(quoted_table(event.table_name).as_(ROW_ALIAS))
        where = table_where(event, ROW_ALIAS, dialect)
        branch = branch.where(where) if where is not None else branch
        if since is not None:
            branch = branch.where(exp.GTE(this=event_date_expression(event), expression=literal(since)))
        branches.append(branch)
    if not branches:
        return _empty_relation(registration)
    union = _union_all(branches)
    ranked = exp.select(
        exp.Star(),
        exp.alias_(
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[quoted("entity_id")],
                order=exp.Order(expressions=[exp.Ordered(this=quoted(c)) for c in ("ts", "__table_rank", "__row")]),
            ),
            "__rn", quoted=True,
        ),
    ).from_(exp.alias_(exp.Subquery(this=union), "r", table=True))
    columns = [quoted(c) for c in ("entity_id", "ts", "date", *extra)]
    return exp.Subquery(this=exp.select(*columns).from_(exp.alias_(exp.Subquery(this=ranked), "ranked", table=True))
                        .where(exp.EQ(this=quoted("__rn"), expression=exp.Literal.number(1))))


def activity_relation(project: ResolvedProject, dialect: str = ENGINE_DIALECT, per_day: bool = True) -> exp.Expression:
    """One row per (user, date) with any activity-tagged event; ``ts`` = first event.
    ``per_day=False``: every activity-tagged event row, not grouped per day (a user's latest
    activity day is the same maximum over them, without grouping every row first)."""
    activity = project.events[ACTIVITY]
    branches = []
    for event in _tagged(project, "activity_event"):
        branch = exp.select(
            exp.alias_(column_path(event.entity_id_column, ROW_ALIAS), "entity_id", quoted=True),
            exp.alias_(cast(column_path(event.timestamp_column, ROW_ALIAS), DataType.DATETIME), "ts", quoted=True),
            exp.alias_(event_date_expression(event), "date", quoted=True),
        ).from_(quoted_table(event.table_name).as_(ROW_ALIAS))
        where = table_where(event, ROW_ALIAS, dialect)
        branches.append(branch.where(where) if where is not None else branch)
    if not branches:
        return _empty_relation(activity)
    if not per_day:
        return exp.Subquery(this=_union_all(branches))
    grouped = exp.select(
        quoted("entity_id"), exp.alias_(exp.Min(this=quoted("ts")), "ts", quoted=True), quoted("date"),
    ).from_(exp.alias_(exp.Subquery(this=_union_all(branches)), "a", table=True)).group_by(
        quoted("entity_id"), quoted("date"))
    return exp.Subquery(this=grouped)


def _union_all(selects: list[exp.Select]) -> exp.Expression:
    result: exp.Expression = selects[0]
    for select in selects[1:]:
        result = exp.Union(this=result, expression=select, distinct=False)
    return result


def _empty_relation(event: ResolvedEvent) -> exp.Expression:
    columns = [exp.alias_(typed_null(t), name, quoted=True) for name, t in event.columns.items()]
    return exp.Subquery(this=exp.select(*columns).where(exp.false()))


def event_property_value(prop, event: ResolvedEvent, date_aliases: frozenset[str] = frozenset(),
                         dialect: str = ENGINE_DIALECT, typed: bool = True) -> exp.Expression:
    """The aggregate giving ``prop``'s value over one user's rows of one day (SEMANTICS 5.1).

    Days with rows but none matching the property's ``where`` give ``default_value``,
    as do days without rows (filled in by the caller). ``typed=False``: the aggregate
    alone, in the type it produces (the dry run compares that with ``data_type``).
    """
    definition = prop.definition
    resolve = column_resolver(event, ROW_ALIAS, date_aliases)
    condition = None
    if definition.where:
        condition = to_tree(parse_expression(definition.where, allow_aggregates=False), resolve, dialect=dialect)
    select = parse_expression(definition.select, allow_aggregates=definition.aggregate_function == "none")
    value = to_tree(select, resolve, dialect=dialect)

    def filtered(aggregate: exp.Expression) -> exp.Expression:
        return exp.Filter(this=aggregate, expression=exp.Where(this=condition.copy())) if condition is not None else aggregate

    match definition.aggregate_function:
        case "none":
            if find_aggregates_in(value):
                aggregated = value.transform(
                    lambda n: filtered(n) if isinstance(n, exp.AggFunc) and not isinstance(n.parent, exp.Filter) else n
                ) if condition is not None else value
            else:
                aggregated = value  # a constant: "had at least one matching event"
        case "count":
            aggregated = filtered(exp.Count(this=value))
        case "count_distinct":
            aggregated = filtered(exp.Count(this=exp.Distinct(expressions=[value])))
        case "sum":
            aggregated = filtered(exp.Sum(this=value))
        case "avg":
            aggregated = filtered(exp.Avg(this=value))
        case "min":
            aggregated = filtered(exp.Min(this=value))
        case "max":
            aggregated = filtered(exp.Max(this=value))
        case "first_value" | "last_value":
            # The value at the first/last matching event, NULL included, picked per day by
            # a window over the rows (see pick_column); every row of the day holds it.
            aggregated = filtered(exp.Min(this=quoted(pick_column(prop), ROW_ALIAS)))
        case other:  # pragma: no cover - the model restricts the values
            raise AssertionError(other)
    if not typed:
        return aggregated
    matched = filtered(exp.Count(this=exp.Star()))
    default = literal(definition.default_value)
    return cast(
        exp.Case(ifs=[exp.If(this=exp.GT(this=matched, expression=exp.Literal.number(0)), true=aggregated)], default=default),
        prop.data_type,
    )


def pick_column(prop) -> str:
    return f"__pick_{prop.id}"


def _pick(prop, event: ResolvedEvent, date_aliases: frozenset[str], dialect: str) -> exp.Expression:
    """FIRST_VALUE over the user's rows of the day: matching rows first, then by time and row order."""
    definition = prop.definition
    resolve = column_resolver(event, ROW_ALIAS, date_aliases)
    value = to_tree(parse_expression(definition.select, allow_aggregates=False), resolve, dialect=dialect)
    descending = definition.aggregate_function == "last_value"
    order = []
    if definition.where:
        condition = to_tree(parse_expression(definition.where, allow_aggregates=False), resolve, dialect=dialect)
        order.append(exp.Ordered(this=exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(0))],
                                               default=exp.Literal.number(1))))
    order += [exp.Ordered(this=column_path(event.timestamp_column, ROW_ALIAS), desc=descending),
              exp.Ordered(this=_row_order(event), desc=descending)]
    return exp.Window(
        this=exp.FirstValue(this=value),
        partition_by=[column_path(event.entity_id_column, ROW_ALIAS), event_date_expression(event)],
        order=exp.Order(expressions=order),
        spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="UNBOUNDED", end_side="FOLLOWING"),
    )


def find_aggregates_in(tree: exp.Expression) -> bool:
    return any(isinstance(node, exp.AggFunc) for node in tree.walk())


def event_properties_query(project: ResolvedProject, event_id: str, props: list,
                           dialect: str = ENGINE_DIALECT, typed: bool = True) -> exp.Select:
    """One GROUP BY over an event table: (entity_id, date, one column per property);
    ``typed=False`` leaves each value in the type its expression produces."""
    event = project.events[event_id]
    date_aliases = frozenset(k for k, v in project.property_aliases.items() if v == "date")
    columns = [
        exp.alias_(column_path(event.entity_id_column, ROW_ALIAS), "entity_id", quoted=True),
        exp.alias_(event_date_expression(event), "date", quoted=True),
    ]
    columns += [exp.alias_(event_property_value(p, event, date_aliases, dialect, typed), p.id, quoted=True)
                for p in props]
    rows = table_rows(event, project, ROW_ALIAS, dialect)
    for prop in props:
        if prop.definition.aggregate_function in ("first_value", "last_value"):
            rows = rows.select(exp.alias_(_pick(prop, event, date_aliases, dialect), pick_column(prop), quoted=True),
                               copy=False)
    query = exp.select(*columns).from_(exp.alias_(exp.Subquery(this=rows), ROW_ALIAS, table=True))
    return query.group_by(exp.Literal.number(1), exp.Literal.number(2))
