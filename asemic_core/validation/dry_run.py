"""The dry run: compare the config with the warehouse and compile every property and
KPI against it (EXPLAIN and DESCRIBE only; nothing is executed).

No check is skipped silently. A check that cannot run because of an error already
reported (on the object itself, or on something it reads) is counted as "not run"; a
check that cannot run for any other reason is itself reported as an issue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlglot import exp

from asemic_core.config.loader import ProjectFiles
from asemic_core.engine import annotate_row_order
from asemic_core.errors import WarehouseError
from asemic_core.issues import Issue, Severity
from asemic_core.semantic.graph import build_graph, node
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS, ResolvedProject
from asemic_core.semantic.resolve import resolve
from asemic_core.sql.expressions import ExpressionError, parse_expression, to_tree
from asemic_core.sql.render import ENGINE_DIALECT, render
from asemic_core.sql.sources import ROW_ALIAS, column_resolver, event_properties_query, table_rows
from asemic_core.sql.types import typed_null
from asemic_core.validation.context import issue_at, property_issue
from asemic_core.validation.data_types import produced_type_issue
from asemic_core.validation.engine_errors import plain_compile_error
from asemic_core.validation.expressions import expression_problem
from asemic_core.warehouse import COMPATIBLE, Warehouse


@dataclass
class DryRunResult:
    issues: list[Issue] = field(default_factory=list)
    checks: int = 0  # compile checks that ran
    not_run: list[str] = field(default_factory=list)  # objects whose check an error reported elsewhere blocks
    unreadable: bool = False  # the warehouse could not be opened: no check ran

    def summary(self, static_errors: int) -> str:
        """"passed" only when every check ran clean and the static rules found no error."""
        if self.unreadable:
            return "failed (the warehouse cannot be read)"
        errors = sum(1 for i in self.issues if i.is_error)
        ran = f"{self.checks} check{'s' if self.checks != 1 else ''}"
        if errors:
            return f"failed ({errors} error{'s' if errors != 1 else ''} in {ran})"
        if static_errors or self.not_run:
            blocked = f"; {len(self.not_run)} not run because of the errors above" if self.not_run else ""
            return f"not passed: {ran} ran clean{blocked}"
        return "passed"


def run_dry_run(files: ProjectFiles, warehouse_path: Path, static_issues: list[Issue], settings=None) -> DryRunResult:
    """The dry run against DuckDB, or, when ``settings`` (EngineSettings) name Spark, against
    the Spark session: the same generated SQL rendered for Spark (one session for the run)."""
    project = resolve(files)
    spark = settings is not None and settings.spark is not None
    try:
        with open_warehouse(warehouse_path, settings) as warehouse:
            run = _DryRun(files, project, warehouse, static_issues)
            run.check_tables()
            if not spark:
                annotate_row_order(warehouse.con, project)
            run.compile_events()
            run.compile_computed()
            run.compile_kpis()
            return run.result
    except WarehouseError as err:
        # Spark did not start (a master that does not answer; no Java or pyspark), or the events cannot be read.
        setting = ("warehouse", "path")
        if spark and "engine.master" in err.message:
            setting = ("engine", "master")
        elif spark and err.message.startswith("engine.type is spark"):
            setting = ("engine", "type")
        line = files.deployment.field_line(*setting) if files.deployment else None
        return DryRunResult([Issue("asemic.yml", line, err.message, field=".".join(setting), rule="dry-run")],
                            unreadable=True)


def check_job_properties(files: ProjectFiles, project: ResolvedProject, warehouse_path, properties: set[str],
                         settings=None) -> list[Issue]:
    """The dry run's checks of the event and computed ``properties`` a job is about to compute
    with definitions the model does not hold yet: what does not compile against the
    warehouse, and a produced type the declared ``data_type`` cannot hold (the job would
    write it cast: a DOUBLE sum declared INTEGER, rounded). One DESCRIBE per event table and
    one for the computed properties; a group that does not compile is checked property by
    property, to name the one at fault."""
    spark = settings is not None and settings.spark is not None
    with open_warehouse(warehouse_path, settings) as warehouse:
        run = _DryRun(files, project, warehouse, [])
        if not spark:
            annotate_row_order(warehouse.con, project)
        run.check_properties(properties)
        return run.result.issues


def open_warehouse(path, settings=None):
    """What the dry run compiles against: the Spark session when ``settings`` name Spark,
    else DuckDB over the warehouse file or Parquet directory."""
    if settings is not None and settings.spark is not None:
        from asemic_core.backend.spark_warehouse import SparkWarehouse
        from asemic_core.engine import describe_events, spark_executor

        return SparkWarehouse.open(spark_executor(path, settings), describe_events(path))
    return Warehouse(path)


class _DryRun:
    def __init__(self, files: ProjectFiles, project: ResolvedProject, warehouse: Warehouse,
                 static_issues: list[Issue]) -> None:
        self.project = project
        self.warehouse = warehouse
        self.graph = build_graph(project)
        self.result = DryRunResult()
        self.erroneous: set[str] = {i.object_id for i in static_issues if i.is_error and i.object_id}
        for names in files.failed.values():
            self.erroneous |= names
        self.missing_columns: dict[str, set[str]] = {}  # event -> declared columns the table lacks

    # -- bookkeeping -----------------------------------------------------------------
    def add(self, issue: Issue) -> None:
        self.result.issues.append(issue)
        if issue.is_error and issue.object_id:
            self.erroneous.add(issue.object_id)

    def _names(self, key: str) -> set[str]:
        kind, name = key.split(":", 1)
        names = {name}
        if kind == "property" and name in self.project.properties:
            parent = self.project.properties[name].parent
            names |= {parent} if parent else set()
        if kind == "kpi" and name in self.project.kpis and self.project.kpis[name].template_id:
            names.add(self.project.kpis[name].template_id)
        return names

    def blocked(self, key: str) -> bool:
        """An error is already reported on this object or on something it reads."""
        for upstream in {key} | self.graph.upstream_of(key):
            if self._names(upstream) & self.erroneous:
                return True
        return False

    def cannot_check(self, key: str, make_issue) -> None:
        """A check could not run: fine (counted) when an error explains it, else an issue."""
        if self.blocked(key):
            self.result.not_run.append(key)
        else:
            self.add(make_issue())

    def explain(self, sql: str) -> str | None:
        self.result.checks += 1
        error = self.warehouse.explain(sql)
        return plain_compile_error(error) if error else None

    # -- event tables ------------------------------------------------------------------
    def check_tables(self) -> None:
        for event in self.project.events.values():
            if event.implicit or event.located is None:
                continue
            self.result.checks += 1
            columns = self.warehouse.columns(event.table_name)
            if columns is None:
                where = getattr(self.warehouse, "where", "the warehouse")
                self.add(issue_at(event.located, f"table {event.table_name} does not exist in {where}",
                                  "table_name", rule="dry-run"))
                continue
            for name, declared in event.columns.items():
                column = columns.get(name)
                if column is None:
                    self.missing_columns.setdefault(event.id, set()).add(name)
                    self.add(issue_at(event.located, f"column {name!r} does not exist in {event.table_name} "
                                      f"(it has: {', '.join(columns)})", "columns", name, rule="dry-run"))
                    continue
                actual = column.data_type
                if actual is None or actual not in COMPATIBLE[declared]:
                    self.add(issue_at(event.located, f"column {name!r} is declared {declared.value} but is "
                                      f"{column.warehouse_type} in {event.table_name}", "columns", name, "data_type",
                                      rule="dry-run"))

    def compile_events(self) -> None:
        tagged = {"registration_event", "activity_event"}
        for event in self.project.events.values():
            if event.located is None:
                continue
            key = node("event", event.id)
            if self.blocked(key):
                self.result.not_run.append(key)
            else:
                try:
                    sql = render(table_rows(event, self.project))
                except (ExpressionError, KeyError) as err:
                    self.add(issue_at(event.located, f"where cannot be compiled: {_reason(err)}", "where",
                                      rule="dry-run"))
                else:
                    error = self.explain(sql)
                    if error:  # the table exists (checked above): the fault is in its where
                        self.add(issue_at(event.located, f"does not compile: {error}",
                                          "where" if event.where else "table_name", rule="dry-run"))
            if event.id in self.erroneous and tagged & set(event.tags):
                self.erroneous |= {REGISTRATIONS, ACTIVITY}  # the implicit tables read it too
        for prop in self.project.properties.values():
            if prop.kind == "event_property":
                self._compile_event_property(prop)

    def _compile_event_property(self, prop) -> None:
        key = node("property", prop.id)
        definition = prop.definition
        if (prop.source_event not in self.project.events or self.blocked(key)
                or expression_problem(definition.select, allow_aggregates=definition.aggregate_function == "none")
                or expression_problem(definition.where, allow_aggregates=False)):
            self.cannot_check(key, lambda: property_issue(
                prop, "could not be checked against the warehouse", "select", rule="dry-run"))
            return
        try:
            sql = render(event_properties_query(self.project, prop.source_event, [prop]))
            untyped = render(event_properties_query(self.project, prop.source_event, [prop], typed=False))
        except (ExpressionError, KeyError) as err:
            self.cannot_check(key, lambda: property_issue(prop, f"cannot be compiled: {_reason(err)}", "select",
                                                          rule="dry-run"))
            return
        error = self.explain(sql)
        if error:
            where_error = self._where_error(prop.source_event, definition.where)
            self.add(property_issue(prop, f"does not compile against the warehouse: {where_error or error}",
                                    "where" if where_error else "select", rule="dry-run"))
            return
        self._check_type(prop, untyped)

    def check_properties(self, ids: set[str]) -> None:
        """``check_job_properties``: the event properties of ``ids`` grouped by table, then
        its computed properties, each group in one DESCRIBE."""
        chosen = [p for p in self.project.properties.values() if p.id in ids]
        by_event: dict[str, list] = {}
        for prop in chosen:
            if prop.kind == "event_property" and prop.source_event in self.project.events:
                by_event.setdefault(prop.source_event, []).append(prop)
        for event_id, props in by_event.items():
            try:
                untyped = render(event_properties_query(self.project, event_id, props, typed=False))
            except (ExpressionError, KeyError):
                untyped = None
            produced = self.warehouse.describe(untyped) if untyped else {}
            self.result.checks += 1
            for prop in props:
                if produced:
                    self._add_type_issue(prop, produced.get(prop.id))
                else:  # the group does not compile: which property is at fault
                    self._compile_event_property(prop)
        computed = [p for p in chosen if p.kind == "computed_property"]
        if computed:
            self.compile_computed(computed)

    def _check_type(self, prop, sql: str) -> None:
        self._add_type_issue(prop, self.warehouse.describe(sql).get(prop.id))

    def _add_type_issue(self, prop, produced) -> None:
        """An issue when ``prop``'s ``data_type`` cannot hold the type its query produces."""
        issue = produced_type_issue(self.project, prop, produced)
        if issue is not None:
            self.add(issue)

    def _where_error(self, event_id: str, where: str | None) -> str | None:
        """The compile error of an event property's `where` on its own (to place an error on
        the field at fault), or None."""
        if not where:
            return None
        event = self.project.events[event_id]
        date_aliases = frozenset(k for k, v in self.project.property_aliases.items() if v == "date")
        try:
            condition = to_tree(parse_expression(where, allow_aggregates=False),
                                column_resolver(event, ROW_ALIAS, date_aliases), dialect=ENGINE_DIALECT)
            rows = exp.alias_(exp.Subquery(this=table_rows(event, self.project)), ROW_ALIAS, table=True)
            sql = render(exp.select(exp.Literal.number(1)).from_(rows).where(condition))
        except (ExpressionError, KeyError):
            return None  # the whole query's error is reported instead
        return self.warehouse.explain(sql)

    # -- computed properties and KPIs (over a row of typed NULLs) -----------------------
    def _null_row(self) -> exp.Expression:
        columns = [exp.alias_(typed_null(p.data_type), p.id, quoted=True) for p in self.project.properties.values()]
        return exp.alias_(exp.Subquery(this=exp.select(*columns)), "r", table=True)

    def _property_column(self, namespace: str | None, name: str) -> exp.Expression:
        prop = self.project.get_property(name)
        if prop is None:
            raise KeyError(name)
        return exp.column(prop.id, table="r", quoted=True)

    def compile_computed(self, props: list | None = None) -> None:
        """Every computed property (or ``props``) over a row of typed NULLs; ``props`` are
        first compiled together, in one DESCRIBE, and one by one only when that fails."""
        source = self._null_row()
        if props is not None and self._computed_together(props, source):
            return
        for prop in self.project.properties.values() if props is None else props:
            if prop.kind != "computed_property":
                continue
            key = node("property", prop.id)
            if self.blocked(key):
                self.result.not_run.append(key)
                continue
            try:
                tree = self._computed_tree(prop)
            except (ExpressionError, KeyError) as err:
                self.add(property_issue(prop, f"cannot be compiled: {_reason(err)}", "select", rule="dry-run"))
                continue
            sql = render(exp.select(exp.alias_(tree, prop.id, quoted=True)).from_(source.copy()))
            error = self.explain(sql)
            if error:
                self.add(property_issue(prop, f"does not compile against the warehouse: {error}", "select",
                                        rule="dry-run"))
            elif not prop.definition.value_mappings:  # with mappings, the value is a mapped literal
                self._check_type(prop, sql)

    def _computed_together(self, props: list, source: exp.Expression) -> bool:
        """Check the types of ``props`` (computed) from one DESCRIBE; False when one of them
        is blocked or the query does not compile (then each is compiled alone)."""
        columns = []
        for prop in props:
            if self.blocked(node("property", prop.id)):
                return False
            try:
                tree = self._computed_tree(prop)
            except (ExpressionError, KeyError):
                return False
            columns.append(exp.alias_(tree, prop.id, quoted=True))
        produced = self.warehouse.describe(render(exp.select(*columns).from_(source.copy())))
        self.result.checks += 1
        if not produced:
            return False
        for prop in props:
            if not prop.definition.value_mappings:  # with mappings, the value is a mapped literal
                self._add_type_issue(prop, produced.get(prop.id))
        return True

    def _computed_tree(self, prop) -> exp.Expression:
        """A computed property's select over the row ``r`` (raises ExpressionError, KeyError)."""
        return to_tree(parse_expression(prop.definition.select, allow_aggregates=False), self._property_column,
                       dialect=ENGINE_DIALECT)

    def compile_kpis(self) -> None:
        source = self._null_row()
        cache: dict[str, exp.Expression] = {}

        def kpi_tree(kpi_id: str, depth: int = 0) -> exp.Expression:
            if kpi_id in cache:
                return cache[kpi_id]
            if depth > 50 or kpi_id not in self.project.kpis:
                raise KeyError(kpi_id)
            kpi = self.project.kpis[kpi_id]

            def resolve_ref(namespace: str | None, name: str) -> exp.Expression:
                if namespace == "kpi":
                    return kpi_tree(name, depth + 1)
                return self._property_column(namespace, name)

            cache[kpi_id] = to_tree(parse_expression(kpi.select_text, allow_aggregates=True), resolve_ref,
                                    dialect=ENGINE_DIALECT)
            return cache[kpi_id]

        reported: set[str] = set()
        for kpi in self.project.kpis.values():
            name = kpi.template_id or kpi.id
            key = node("kpi", kpi.id)
            if self.blocked(key):
                self.result.not_run.append(key)
                continue
            try:
                query = exp.select(kpi_tree(kpi.id)).from_(source.copy())
                if kpi.where:
                    query = query.where(to_tree(parse_expression(kpi.where, allow_aggregates=False),
                                                self._property_column, dialect=ENGINE_DIALECT))
            except (ExpressionError, KeyError) as err:
                if name not in reported:
                    reported.add(name)
                    self.add(issue_at(kpi.located, f"cannot be compiled: {_reason(err)}", "select", object_id=name,
                                      rule="dry-run"))
                continue
            error = self.explain(render(query))
            if error and name not in reported:
                reported.add(name)
                self.add(issue_at(kpi.located, f"does not compile against the warehouse: {error}", "select",
                                  object_id=name, rule="dry-run", severity=Severity.ERROR))


def _reason(err: Exception) -> str:
    if isinstance(err, KeyError):
        return f"{err.args[0]!r} cannot be resolved"
    return getattr(err, "message", None) or str(err)
