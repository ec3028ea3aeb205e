"""The dry run: compare the config with the warehouse and compile every property and
KPI against it (EXPLAIN only; nothing is executed)."""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from asemic_core.config.loader import ProjectFiles
from asemic_core.engine import annotate_row_order
from asemic_core.errors import WarehouseError
from asemic_core.issues import Issue, Severity
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS, ResolvedProject
from asemic_core.semantic.resolve import resolve
from asemic_core.sql.expressions import ExpressionError, parse_expression, to_tree
from asemic_core.sql.render import ENGINE_DIALECT, render
from asemic_core.sql.sources import ROW_ALIAS, column_resolver, event_properties_query, table_rows
from asemic_core.sql.types import typed_null
from asemic_core.validation.context import issue_at, property_issue
from asemic_core.validation.expressions import expression_problem
from asemic_core.warehouse import COMPATIBLE, Warehouse


def dry_run_issues(files: ProjectFiles, warehouse_path: Path) -> list[Issue]:
    project = resolve(files)
    try:
        with Warehouse(warehouse_path) as warehouse:
            issues = list(_check_tables(project, warehouse))
            annotate_row_order(warehouse.con, project)
            if any(i.is_error for i in issues):
                return issues  # compiling against missing tables only repeats the same problem
            issues += _compile_events(project, warehouse)
            issues += _compile_computed(project, warehouse)
            issues += _compile_kpis(project, warehouse)
            return issues
    except WarehouseError as err:
        return [Issue("asemic.yml", files.deployment.field_line("warehouse", "path") if files.deployment else None,
                      err.message, field="warehouse.path", rule="dry-run")]


def _check_tables(project: ResolvedProject, warehouse: Warehouse):
    for event in project.events.values():
        if event.implicit or event.located is None:
            continue
        columns = warehouse.columns(event.table_name)
        if columns is None:
            yield issue_at(event.located, f"table {event.table_name} does not exist in the warehouse", "table_name",
                           rule="dry-run")
            continue
        for name, declared in event.columns.items():
            column = columns.get(name)
            if column is None:
                yield issue_at(event.located, f"column {name!r} does not exist in {event.table_name} "
                               f"(it has: {', '.join(columns)})", "columns", name, rule="dry-run")
                continue
            actual = column.data_type
            if actual is None or actual not in COMPATIBLE[declared]:
                yield issue_at(event.located, f"column {name!r} is declared {declared.value} but is "
                               f"{column.warehouse_type} in {event.table_name}", "columns", name, "data_type",
                               rule="dry-run")


def _compile_events(project: ResolvedProject, warehouse: Warehouse) -> list[Issue]:
    issues: list[Issue] = []
    by_event: dict[str, list] = {}
    for prop in project.properties.values():
        if prop.kind == "event_property" and prop.source_event in project.events:
            by_event.setdefault(prop.source_event, []).append(prop)
    # Tables whose own `where` is refused (the static rules report it) or does not compile:
    # every property reading them would only repeat that problem.
    broken: set[str] = set()
    for event in project.events.values():
        if event.located is None:
            continue
        try:
            error = warehouse.explain(render(table_rows(event, project)))
        except (ExpressionError, KeyError):
            error = None
            broken.add(event.id)
        if error:
            issues.append(issue_at(event.located, f"does not compile: {error}", "where", rule="dry-run"))
            broken.add(event.id)
        if event.id in broken and {"registration_event", "activity_event"} & set(event.tags):
            broken.update((REGISTRATIONS, ACTIVITY))  # the implicit tables read it too
    for event_id, props in by_event.items():
        if event_id in broken:
            continue
        for prop in props:  # one at a time, so that an error names its property
            definition = prop.definition
            if (expression_problem(definition.select, allow_aggregates=definition.aggregate_function == "none")
                    or expression_problem(definition.where, allow_aggregates=False)):
                continue  # refused by the static rules, which report it
            try:
                sql = render(event_properties_query(project, event_id, [prop]))
            except KeyError:
                continue  # an unknown column: reported by the static rules
            except ExpressionError as err:
                issues.append(property_issue(prop, f"cannot be compiled: {err}", "select", rule="dry-run"))
                continue
            error = warehouse.explain(sql)
            if error:
                where_error = _where_error(project, event_id, definition.where, warehouse)
                issues.append(property_issue(prop, f"does not compile against the warehouse: {where_error or error}",
                                             "where" if where_error else "select", rule="dry-run"))
    return issues


def _where_error(project: ResolvedProject, event_id: str, where: str | None, warehouse: Warehouse) -> str | None:
    """The compile error of an event property's `where` on its own (to place an error on
    the field at fault), or None."""
    if not where:
        return None
    event = project.events[event_id]
    date_aliases = frozenset(k for k, v in project.property_aliases.items() if v == "date")
    try:
        condition = to_tree(parse_expression(where, allow_aggregates=False),
                            column_resolver(event, ROW_ALIAS, date_aliases), dialect=ENGINE_DIALECT)
        rows = exp.alias_(exp.Subquery(this=table_rows(event, project)), ROW_ALIAS, table=True)
        sql = render(exp.select(exp.Literal.number(1)).from_(rows).where(condition))
    except (ExpressionError, KeyError):
        return None
    return warehouse.explain(sql)


def _null_row(project: ResolvedProject) -> exp.Expression:
    columns = [exp.alias_(typed_null(p.data_type), p.id, quoted=True) for p in project.properties.values()]
    return exp.alias_(exp.Subquery(this=exp.select(*columns)), "r", table=True)


def _property_column(project: ResolvedProject):
    def resolve(namespace: str | None, name: str) -> exp.Expression:
        prop = project.get_property(name)
        if prop is None:
            raise KeyError(name)
        return exp.column(prop.id, table="r", quoted=True)

    return resolve


def _compile_computed(project: ResolvedProject, warehouse: Warehouse) -> list[Issue]:
    issues = []
    source = _null_row(project)
    for prop in project.properties.values():
        if prop.kind != "computed_property":
            continue
        try:
            tree = to_tree(parse_expression(prop.definition.select, allow_aggregates=False), _property_column(project),
                           dialect=ENGINE_DIALECT)
        except (ExpressionError, KeyError):
            continue  # reported by the static rules
        error = warehouse.explain(render(exp.select(tree).from_(source.copy())))
        if error:
            issues.append(property_issue(prop, f"does not compile against the warehouse: {error}", "select",
                                         rule="dry-run"))
    return issues


def _compile_kpis(project: ResolvedProject, warehouse: Warehouse) -> list[Issue]:
    issues = []
    source = _null_row(project)
    cache: dict[str, exp.Expression] = {}
    prop_column = _property_column(project)

    def kpi_tree(kpi_id: str, depth: int = 0) -> exp.Expression:
        if kpi_id in cache:
            return cache[kpi_id]
        if depth > 50:
            raise KeyError(kpi_id)
        kpi = project.kpis[kpi_id]

        def resolve(namespace: str | None, name: str) -> exp.Expression:
            if namespace == "kpi":
                return kpi_tree(name, depth + 1)
            return prop_column(namespace, name)

        cache[kpi_id] = to_tree(parse_expression(kpi.select_text, allow_aggregates=True), resolve, dialect=ENGINE_DIALECT)
        return cache[kpi_id]

    reported: set[str] = set()
    for kpi in project.kpis.values():
        try:
            tree = kpi_tree(kpi.id)
        except (ExpressionError, KeyError):
            continue
        query = exp.select(tree).from_(source.copy())
        if kpi.where:
            try:
                where = to_tree(parse_expression(kpi.where, allow_aggregates=False), prop_column, dialect=ENGINE_DIALECT)
                query = query.where(where)
            except (ExpressionError, KeyError):
                continue
        error = warehouse.explain(render(query))
        name = kpi.template_id or kpi.id
        if error and name not in reported and kpi.located is not None:
            reported.add(name)
            issues.append(issue_at(kpi.located, f"does not compile against the warehouse: {error}", "select",
                                   object_id=name, rule="dry-run", severity=Severity.ERROR))
    return issues
