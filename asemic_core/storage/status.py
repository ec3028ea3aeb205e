"""Model status: watermark, per-column coverage, stale columns."""

from __future__ import annotations

from dataclasses import dataclass, field

from asemic_core.semantic.model import ResolvedProject
from asemic_core.storage.schema import generate_schema
from asemic_core.storage.state import ModelVersion
from asemic_core.storage.store import DAILY, USERS, ModelStore


@dataclass
class ColumnStatus:
    name: str
    state: str  # "fresh", "stale" (definition changed), "new" (never materialized), "removed"
    first_day: str | None
    last_day: str | None
    job_id: str | None


@dataclass
class ModelStatus:
    watermark: str | None
    first_day: str | None
    partitions: int
    rows: int  # rows of the logical model: every registered user on every materialized day
    columns: list[ColumnStatus] = field(default_factory=list)
    running_job: str | None = None
    version: int | None = None  # the published model version
    size_bytes: int = 0  # the files of that version
    stored_rows: int = 0  # rows the daily table stores (fewer in the sparse layout)

    @property
    def stale(self) -> list[str]:
        return [c.name for c in self.columns if c.state in ("stale", "new")]

    def to_dict(self) -> dict:
        return {"watermark": self.watermark, "first_day": self.first_day, "partitions": self.partitions,
                "rows": self.rows, "stored_rows": self.stored_rows, "version": self.version, "size_bytes": self.size_bytes, "running_job": self.running_job, "stale_columns": self.stale,
                "columns": [c.__dict__ for c in self.columns]}

    def describe(self) -> str:
        if self.watermark is None:
            head = "The model has not been materialized yet: run `asemic-cli model refresh`."
        else:
            head = (f"Materialized {self.first_day} .. {self.watermark}: {self.partitions} day partition(s), "
                    f"{self.rows:,} rows ({self.stored_rows:,} stored)")
        lines = [head]
        if self.version is not None:
            lines.append(f"Model version {self.version} ({self.size_bytes / 1e6:,.1f} MB of files; "
                         "see `asemic-cli model history`)")
        if self.running_job:
            lines.append(f"Running job: {self.running_job}")
        counts: dict[str, int] = {}
        for column in self.columns:
            counts[column.state] = counts.get(column.state, 0) + 1
        lines.append("Columns: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
        for column in self.columns:
            if column.state != "fresh":
                lines.append(f"  {column.state:8} {column.name}")
        return "\n".join(lines)


def column_statuses(project: ResolvedProject, current: ModelVersion | None) -> list[ColumnStatus]:
    """Each daily column's state in model version ``current`` against its current definition
    (a job needs only these, not the rest of the status: no table is opened)."""
    states = current.columns if current else {}
    schema = generate_schema(project)
    columns = []
    current_specs = {c.name: c for c in schema.table(DAILY).columns if c.kind != "key"}
    for name, spec in current_specs.items():
        state = states.get(name)
        if state is None:
            columns.append(ColumnStatus(name, "new", None, None, None))
        else:
            fresh = state.def_hash == spec.def_hash
            columns.append(ColumnStatus(name, "fresh" if fresh else "stale", state.first_day, state.last_day,
                                        state.job_id))
    for name, state in states.items():
        if name not in current_specs and name not in ("entity_id", "date"):
            columns.append(ColumnStatus(name, "removed", state.first_day, state.last_day, state.job_id))
    return columns


def model_status(project: ResolvedProject, store: ModelStore) -> ModelStatus:
    current = store.current()
    daily = store.snapshot(DAILY, current) if current else None
    columns = column_statuses(project, current)
    size = sum(s.size for s in (store.snapshot(t, current) for t in (current.tables if current else {})) if s)
    return ModelStatus(
        watermark=current.watermark if current else None, first_day=current.first_day if current else None,
        partitions=len(daily.rows_by_day()) if daily else 0, rows=_user_days(store, current), columns=columns,
        running_job=store.lock.holder(), version=current.version if current else None, size_bytes=size,
        stored_rows=daily.rows if daily else 0,
    )


def _user_days(store: ModelStore, current) -> int:
    """Every registered user on every materialized day (from the users table's registration days)."""
    users = store.snapshot(USERS, current) if current else None
    if users is None or not users.files or not current.watermark:
        return 0
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute(
            "SELECT sum(date_diff('day', greatest(registration_date, CAST(? AS DATE)), CAST(? AS DATE)) + 1) "
            "FROM read_parquet(?) WHERE registration_date <= CAST(? AS DATE)",
            [current.first_day, current.watermark, [f.path for f in users.files], current.watermark]).fetchall()
    finally:
        con.close()
    return int(row[0][0] or 0)
