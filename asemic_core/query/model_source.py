"""Where query rows come from: the published model version for columns that are fresh,
computed on the fly from the events for columns that are new or changed since the
last job (ad hoc), joined on (entity_id, date)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlglot import exp

from asemic_core.backend.seam import SnapshotGone, TableSnapshot
from asemic_core.collector import keep_for_life
from asemic_core.engine import source_day_range, warehouse_executor
from asemic_core.errors import AsemicError
from asemic_core.semantic.activity import Recency, activity_columns, settled_at_registration
from asemic_core.semantic.hashing import definition_hashes
from asemic_core.semantic.model import ResolvedProject
from asemic_core.sql.expansion import (cohort_day_from_registration, cohort_days, cohort_days_from_registration,
                                       counter_days, expand_range, month_start, needed_columns)
from asemic_core.sql.model_users import registration_value, users_cte
from asemic_core.sql.runs import spans
from asemic_core.sql.steps import Steps
from asemic_core.semantic.base_properties import COHORT_DAY, DAYS_SINCE_LAST_ACTIVE, REGISTRATION_DATE
from asemic_core.sql.sources import quoted as quoted_column
from asemic_core.sql.sparse import PREVIOUS_ACTIVE, date_literal
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import render
from asemic_core.sql.types import sql_type
from asemic_core.storage.store import DAILY, USERS, ModelStore

KEYS = ("entity_id", "date")


@dataclass(frozen=True)
class CounterDays:
    """Rows a reader sees when its filter is ``counter = n`` (cohort_day or
    days_since_last_active): one day per registration or activity day, ``n`` days later."""

    counter: str
    n: int
    # the reader reads days_since_last_active only in its population conditions
    # (``<= active_days``, ``= 0``): a cohort_day reader may value it by their truth alone
    # (sql/expansion.py ``cohort_day_from_registration``)
    population_only: bool = False


def _with_adhoc(parts: list[exp.Expression], plan: "SourcePlan") -> exp.Expression:
    """The stored rows' relation (first), joined on the keys to the ad hoc columns' (second)."""
    if len(parts) == 1:
        return parts[0]
    return exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("s")),
                      *[quoted_column(c, "a") for c in plan.adhoc]).from_(
        exp.alias_(exp.Subquery(this=parts[0]), "s", table=True, copy=False)).join(
        exp.alias_(exp.Subquery(this=parts[1]), "a", table=True, copy=False),
        on=exp.and_(*[exp.EQ(this=quoted_column(k, "s"), expression=quoted_column(k, "a")) for k in KEYS]))


@dataclass
class SourcePlan:
    stored: list[str]
    adhoc: list[str]
    day_from: dt.date
    day_to: dt.date
    files: list[str]  # the files the stored columns are read from
    snapshot: TableSnapshot | None = field(default=None, repr=False)
    version: int | None = None  # the model version read


_FIRST_READER = True


class ModelSource:
    """A read-only view of one project's model; one executor, reused. Each plan pins the
    model version published at that moment."""

    def __init__(self, resolved: ResolvedProject, store: ModelStore, warehouse_path, settings=None) -> None:
        global _FIRST_READER
        if _FIRST_READER:  # the first reader of the process: modules and config are for life
            _FIRST_READER = False
            keep_for_life()
        self.resolved = resolved
        self.store = store
        self.warehouse_path = warehouse_path
        self.settings = settings
        self.hashes = definition_hashes(resolved)
        self._executor = None

    @property
    def executor(self):
        if self._executor is None:
            self._executor = warehouse_executor(self.warehouse_path, self.resolved, self.settings)
            if self.reads_with_duckdb():
                # model files are never changed once written (a new version writes new files):
                # their Parquet footers can be kept between queries
                self._executor.con.execute("SET parquet_metadata_cache = true")
        return self._executor

    @property
    def con(self):
        """The DuckDB connection under the executor (previews sample the warehouse with it)."""
        return self.executor.con

    @con.setter
    def con(self, value) -> None:
        from asemic_core.backend.duckdb_executor import DuckDBExecutor

        self._executor = DuckDBExecutor(value) if value is not None else None

    def close(self) -> None:
        if self._executor is not None:
            self._executor.close()
            self._executor = None

    def fresh_columns(self) -> set[str]:
        current = self.store.current()
        states = current.columns if current else {}
        return {name for name, state in states.items() if self.hashes.get(name) == state.def_hash}

    def available_range(self, current=None) -> tuple[dt.date, dt.date]:
        """Materialized days if a model exists, else the days the sources hold."""
        current = current if current is not None else self.store.current()
        if current is not None and current.watermark:
            return dt.date.fromisoformat(current.first_day), dt.date.fromisoformat(current.watermark)
        day_range = source_day_range(self.executor, self.resolved)
        if day_range is None:
            raise AsemicError("the event tables hold no registrations or no activity yet")
        return day_range

    def plan(self, columns: list[str], day_from: dt.date | None, day_to: dt.date | None) -> SourcePlan:
        current = self.store.current()
        first, last = self.available_range(current)
        day_from = max(day_from or first, first)
        day_to = min(day_to or last, last)
        states = current.columns if current else {}
        wanted = [c for c in dict.fromkeys(columns) if c not in KEYS]
        stored, adhoc = [], []
        for name in wanted:
            state = states.get(name)
            if current is not None and state is not None and state.def_hash == self.hashes.get(name):
                stored.append(name)
            else:
                adhoc.append(name)
        snapshot = self.store.snapshot(DAILY, current) if current is not None else None
        if snapshot is not None:  # a user's row on or before day_from is on or after the month's first day
            entity = self.resolved.entity
            recent = day_from - dt.timedelta(days=entity.active_days if entity else 0)
            snapshot = snapshot.between(min(month_start(day_from), recent), day_to)
        files = [f.path for table in ([snapshot, *[o.snapshot for o in snapshot.overrides]] if snapshot else [])
                 for f in table.files]
        return SourcePlan(stored, adhoc, day_from, day_to, files, snapshot, current.version if current else None)

    def relation_sql(self, plan: SourcePlan, user_filter=None, rows: str = "all", registered=None) -> str:
        """``relation`` as SQL."""
        return render(self.relation(plan, user_filter, rows, registered))

    def relation(self, plan: SourcePlan, user_filter=None, rows: str = "all", registered=None) -> exp.Expression:
        """A relation with entity_id, date and the planned columns: every user and day of
        the plan's range (the logical model), expanded from the stored rows.

        ``rows``: what the caller reads: "active", only rows with days_since_last_active = 0
        (stored rows: activity days are change days, so nothing is derived); "recent", only
        rows within active_days of the last activity (fewer days derived); "cohort", only
        each user's days with cohort_day in cohorted_daily_kpis_days (of the users
        ``registered`` in that range of days, if given); a ``CounterDays``, only the rows
        where that counter can equal its value; "all"."""
        entity = self.resolved.entity
        if rows == "cohort":
            return self._cohort_sql(plan, user_filter, registered)
        if isinstance(rows, CounterDays):
            return self._counter_sql(plan, rows, user_filter)
        recent = entity.active_days if rows == "recent" and entity is not None else None
        stored_sql = adhoc_sql = None
        if plan.snapshot is not None or not plan.adhoc:
            if rows == "active":
                within = exp.Between(this=quoted_column("date"), low=date_literal(plan.day_from), high=date_literal(plan.day_to))
                stored = self._stored_rows(plan, plan.stored, plan.day_from, active=True)
                stored_sql = exp.select(exp.Star()).from_(exp.alias_(stored, "r", table=True, copy=False),
                                                          copy=False).where(within, copy=False)
            else:
                stored = self._stored_rows(plan, needed_columns(self.resolved, plan.stored))
                cap = recent if DAYS_SINCE_LAST_ACTIVE in plan.stored else None
                stored_sql = expand_range(self.resolved, stored, plan.stored, plan.day_from, plan.day_to,
                                          recent_days=cap)
        if plan.adhoc:
            first = plan.day_from if rows == "active" else month_start(plan.day_from)
            request = ModelRequest(properties=plan.adhoc, day_from=first, day_to=plan.day_to, user_filter=user_filter)
            computed = ModelQueryBuilder(self.resolved).build(request)
            if rows == "active":
                adhoc_sql = computed
            else:
                cap = recent if DAYS_SINCE_LAST_ACTIVE in plan.adhoc else None
                adhoc_sql = expand_range(self.resolved, exp.Subquery(this=computed), plan.adhoc, plan.day_from,
                                         plan.day_to, recent_days=cap)
        return _with_adhoc([sql for sql in (stored_sql, adhoc_sql) if sql is not None], plan)

    def signed_cohort_relation(self, plan: SourcePlan, registered=None) -> exp.Expression | None:
        """Each user's cohorted days as signed rows (``cohort_days_from_registration`` with
        ``signed``: no entity_id, no user matched with its registration row), when they can
        be valued from registration rows; None otherwise."""
        return self._from_registration_rows(plan, registered, signed=True)

    def _from_registration_rows(self, plan: SourcePlan, registered, signed: bool = False) -> exp.Expression | None:
        """``cohort_days_from_registration`` over the plan's stored rows (of the users
        ``registered`` in that range, if given) when every stored column but cohort_day is
        settled at registration; None otherwise."""
        entity = self.resolved.entity
        days = sorted(set(entity.cohorted_daily_kpis_days if entity else [0]))
        part = self._settled(plan, (COHORT_DAY,)) if plan.snapshot is not None and not plan.adhoc else None
        if part is None:
            return None
        columns = needed_columns(self.resolved, [*plan.stored, COHORT_DAY, REGISTRATION_DATE])
        first, last = registered or (None, None)
        last = last + dt.timedelta(days=max(days)) if last is not None else None
        rows = self._stored_rows(plan, columns, first, last, active=part == "active")
        return cohort_days_from_registration(self.resolved, rows, plan.stored, days, plan.day_from, plan.day_to,
                                             registered=registered, materialize=self.reads_with_duckdb(), signed=signed)

    def _cohort_sql(self, plan: SourcePlan, user_filter=None, registered=None) -> exp.Expression:
        """Each user's cohorted days (registration + N for N in cohorted_daily_kpis_days, up
        to the plan's last day), derived from the rows of the user's first max(N) days."""
        entity = self.resolved.entity
        days = sorted(set(entity.cohorted_daily_kpis_days if entity else [0]))
        from_registration = self._from_registration_rows(plan, registered)
        if from_registration is not None:
            return from_registration
        parts = []
        if plan.snapshot is not None or not plan.adhoc:
            columns = needed_columns(self.resolved, [*plan.stored, COHORT_DAY, REGISTRATION_DATE])
            # the rows of users registered from A on, within max(N) days of registering: A .. B + max(N)
            first, last = registered or (None, None)
            last = last + dt.timedelta(days=max(days)) if last is not None else None
            parts.append((self._stored_rows(plan, columns, first, last, active=self._anchored_on_activity(plan, COHORT_DAY)),
                          plan.stored))
        if plan.adhoc:
            request = ModelRequest(properties=[*plan.adhoc, COHORT_DAY, REGISTRATION_DATE], day_from=plan.day_from, day_to=plan.day_to,
                                   user_filter=user_filter)
            parts.append((exp.Subquery(this=ModelQueryBuilder(self.resolved).build(request)), plan.adhoc))
        sqls = [cohort_days(self.resolved, rows, columns, days, plan.day_from, plan.day_to,
                            registered=registered, materialize=self.reads_with_duckdb())
                for rows, columns in parts]
        return _with_adhoc(sqls, plan)

    def runs(self, plan: SourcePlan, recent: bool = False, recency: dict[str, Recency] | None = None,
             users: bool = False) -> exp.Expression:
        """The plan's range as runs of days with one value each (``spans``) for its stored
        columns that keep their value on gap days; ``recent``: only the days within
        active_days of the last activity. ``recency`` (recent only; every column follows
        from the activity days, semantic/activity.py): only the activity part is read, and
        these recency windows are derived on the gap days. ``users``: the KPI reads
        entity_id itself (runs keep the users apart)."""
        entity = self.resolved.entity
        recent_days = (entity.active_days if entity else 0) if recent else None
        counters = [DAYS_SINCE_LAST_ACTIVE] if recent else []
        counters += [COHORT_DAY] if recency else []  # a recency window starts at registration
        columns = needed_columns(self.resolved, [*plan.stored, *counters])
        # with each activity day's previous one stored, the runs need no pairing of rows
        previous = recency is not None and PREVIOUS_ACTIVE in plan.snapshot.columns
        if previous:
            columns += [c for c in (REGISTRATION_DATE, PREVIOUS_ACTIVE) if c not in columns]
        stored = self._stored_rows(plan, columns, active=recency is not None)
        return spans(self.resolved, stored, plan.stored, plan.day_from, plan.day_to, recent_days=recent_days,
                     materialize=self.reads_with_duckdb(), recency=recency, previous=previous, users=users)

    def every_day_runs(self, plan: SourcePlan, windows: dict[str, Recency], steps: dict[str, Steps],
                       users: bool = False) -> exp.Expression | None:
        """The plan's range as runs covering every registered day (``spans`` with
        ``everyone``), for columns ``runs.every_day_columns`` accepts, from the activity
        part and the users table of the plan's model version; None when that version does
        not store each activity day's previous one."""
        if plan.snapshot is None or PREVIOUS_ACTIVE not in plan.snapshot.columns:
            return None
        current = self.store.current()
        table = self.store.snapshot(USERS, current) if current is not None else None
        if table is None or current.version != plan.version:
            return None
        reach = max([w.days for w in windows.values()] + [b for s in steps.values() for b in s.bounds] + [0])
        columns = needed_columns(self.resolved, [*plan.stored, DAYS_SINCE_LAST_ACTIVE, COHORT_DAY])
        columns += [c for c in (REGISTRATION_DATE, PREVIOUS_ACTIVE) if c not in columns]
        stored = self._stored_rows(plan, columns, active=True)
        registration = [self.resolved.properties[c] for c in plan.stored
                        if c in self.resolved.properties and self.resolved.properties[c].kind == "registration_property"]
        users_sql = render(self.executor.relation(table, list(table.columns)), self.executor.dialect)
        listed = users_cte(self.resolved, ModelRequest([], plan.day_from, plan.day_to, users_sql=users_sql),
                           self.executor.dialect)
        everyone = exp.select(quoted_column("entity_id"), quoted_column(REGISTRATION_DATE),
                              *[exp.alias_(registration_value(self.resolved, p), p.id, quoted=True) for p in registration]).from_(
            exp.alias_(exp.Subquery(this=listed), "u", table=True, copy=False))
        return spans(self.resolved, stored, plan.stored, plan.day_from, plan.day_to, recent_days=reach,
                     materialize=self.reads_with_duckdb(), recency=windows, previous=True, steps=steps,
                     everyone=exp.Subquery(this=everyone), users=users)

    def reads_with_duckdb(self) -> bool:
        from asemic_core.backend.duckdb_executor import DuckDBExecutor

        return isinstance(self.executor, DuckDBExecutor)

    def _counter_sql(self, plan: SourcePlan, rows: CounterDays, user_filter=None) -> exp.Expression:
        """The days of the plan's range where ``rows.counter`` can be ``rows.n`` (see
        ``counter_days``), from the stored rows of the ``n`` days before the range on."""
        first = plan.day_from - dt.timedelta(days=rows.n)
        from_registration = self._counter_from_registration(plan, rows)
        if from_registration is not None:
            return from_registration
        sqls = []
        if plan.snapshot is not None or not plan.adhoc:
            columns = needed_columns(self.resolved, [*plan.stored, rows.counter])
            # a counter's zero days are activity or registration days: the active part holds them
            active = rows.n == 0 or self._anchored_on_activity(plan, rows.counter)
            stored = self._stored_rows(plan, columns, first, plan.day_to, active=active)
            sqls.append(counter_days(self.resolved, stored, plan.stored, rows.counter, rows.n,
                                     plan.day_from, plan.day_to, materialize=self.reads_with_duckdb()))
        if plan.adhoc:
            request = ModelRequest(properties=[*plan.adhoc, rows.counter], day_from=max(first, self.available_range()[0]),
                                   day_to=plan.day_to, user_filter=user_filter)
            computed = exp.Subquery(this=ModelQueryBuilder(self.resolved).build(request))
            sqls.append(counter_days(self.resolved, computed, plan.adhoc, rows.counter, rows.n,
                                     plan.day_from, plan.day_to, materialize=self.reads_with_duckdb()))
        return _with_adhoc(sqls, plan)

    def signed_counter_relation(self, plan: SourcePlan, rows: CounterDays) -> exp.Expression | None:
        """The days where cohort_day = n as signed rows (``cohort_day_from_registration`` with
        ``signed``: no entity_id, no user matched with its registration row), when the days
        can be valued from registration rows and the activity files' statistics show every
        registration row of the range active; None otherwise."""
        return self._counter_from_registration(plan, rows, signed=True)

    def _counter_from_registration(self, plan: SourcePlan, rows: CounterDays,
                                   signed: bool = False) -> exp.Expression | None:
        """``cohort_day_from_registration`` over the plan's stored rows when the days can be
        valued from registration rows (``_from_registration``); ``signed`` only when every
        registration row of the range is active, else None. Unsigned, the activity days in
        between are read for the users the registration row leaves open, unless the
        statistics show there are none."""
        part = self._from_registration(plan, rows)
        if part is None:
            return None
        first = plan.day_from - dt.timedelta(days=rows.n)
        last_registered = plan.day_to - dt.timedelta(days=rows.n)
        if signed and not self._registered_while_active(plan, first, last_registered):
            return None
        columns = needed_columns(self.resolved, [*plan.stored, rows.counter])
        stored = self._stored_rows(plan, columns, first, plan.day_to, active=part == "active")
        activity = None
        if not signed and rows.n > 1 and not self._registered_while_active(plan, first, last_registered):
            activity = self._stored_rows(plan, [COHORT_DAY, DAYS_SINCE_LAST_ACTIVE], first, plan.day_to, active=True)
        return cohort_day_from_registration(self.resolved, stored, plan.stored, rows.n, plan.day_from, plan.day_to,
                                            self.resolved.entity.active_days, activity,
                                            materialize=self.reads_with_duckdb(), signed=signed)

    def _from_registration(self, plan: SourcePlan, rows: CounterDays) -> str | None:
        """The stored rows to read (``_settled``) when the days where cohort_day = n can be
        valued from each user's registration row and the row of the day itself
        (``cohort_day_from_registration``); None when they cannot."""
        entity = self.resolved.entity
        if not rows.population_only or rows.counter != COHORT_DAY or rows.n < 1 or entity is None:
            return None
        if plan.adhoc or plan.snapshot is None or rows.n > entity.active_days:
            return None
        if DAYS_SINCE_LAST_ACTIVE not in plan.stored:
            return None
        return self._settled(plan, (COHORT_DAY, DAYS_SINCE_LAST_ACTIVE))

    def _settled(self, plan: SourcePlan, counters: tuple[str, ...]) -> str | None:
        """Which stored rows a reader valuing days from registration rows reads, when every
        column the plan reads but ``counters`` is settled at registration: "active" (the
        activity part holds every day it needs), "all" (an event property over a table
        without activity: its days may be outside the activity part); None when one is not."""
        names = [c for c in plan.stored if c not in counters]
        if all(settled_at_registration(self.resolved, c) for c in names):
            return "active"
        if all(settled_at_registration(self.resolved, c, every_table=True) for c in names):
            return "all"
        return None

    def _registered_while_active(self, plan: SourcePlan, day_from: dt.date, day_to: dt.date) -> bool:
        """Whether the statistics of the activity part's files of ``day_from`` .. ``day_to`` show
        days_since_last_active = 0 on every row: every registration row of those days is an
        activity day. False when they cannot tell (no statistics, a table store without them)."""
        holds = getattr(self.store.tables, "holds_everywhere", None)
        if holds is None or not plan.snapshot.split:
            return False
        return holds(plan.snapshot.between(day_from, day_to).active_only(), DAYS_SINCE_LAST_ACTIVE, 0)

    def _anchored_on_activity(self, plan: SourcePlan, counter: str) -> bool:
        """Whether the days a counter reader derives (from each day's latest stored row) can
        be derived from the rows of activity and registration days alone: every stored
        column but the counter follows from those days, and none is a recency window
        (semantic/activity.py), which the derivation would carry instead of deriving."""
        return activity_columns(self.resolved, [c for c in plan.stored if c != counter]) == {}

    def _stored_rows(self, plan: SourcePlan, columns: list[str], day_from: dt.date | None = None,
                     day_to: dt.date | None = None, active: bool = False) -> exp.Expression:
        """The stored rows of the plan's model version (of ``day_from`` .. ``day_to``, if given;
        ``active``: at least the rows of activity and registration days, the caller filters them)."""
        names = [*KEYS, *columns]
        types = {c: sql_type(self.resolved.properties[c].data_type) for c in names if c in self.resolved.properties}
        snapshot = plan.snapshot
        if snapshot is not None and (day_from is not None or day_to is not None):
            snapshot = snapshot.between(day_from or plan.day_from, day_to or plan.day_to)
        if snapshot is not None and active:
            snapshot = snapshot.active_only()
        if snapshot is None:
            snapshot = TableSnapshot(DAILY, "", 0, tuple(names), "date")
        return exp.Subquery(this=self.executor.relation(snapshot, names, types))

    def run_many(self, build_sqls):
        """Run the SQL statements ``build_sqls()`` returns, all on one model version.

        They are planned together, so they read the same table version; if a vacuum removed
        a file of that version in between, all of them are planned and run again.
        """
        for attempt in (1, 2):
            statements = build_sqls()
            try:
                return self.executor.frames(statements), statements
            except SnapshotGone:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self, build_sql):
        """Run the SQL ``build_sql()`` returns, as a polars frame (see ``run_many``)."""
        frames, statements = self.run_many(lambda: [build_sql()])
        return frames[0], statements[0]
