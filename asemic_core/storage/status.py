"""Model status: watermark, per-column coverage, stale columns."""

from __future__ import annotations

from dataclasses import dataclass, field

from asemic_core.semantic.model import ResolvedProject
from asemic_core.storage.schema import generate_schema
from asemic_core.storage.store import DAILY, ModelStore


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
    rows: int
    columns: list[ColumnStatus] = field(default_factory=list)
    running_job: str | None = None

    @property
    def stale(self) -> list[str]:
        return [c.name for c in self.columns if c.state in ("stale", "new")]

    def to_dict(self) -> dict:
        return {"watermark": self.watermark, "first_day": self.first_day, "partitions": self.partitions,
                "rows": self.rows, "running_job": self.running_job, "stale_columns": self.stale,
                "columns": [c.__dict__ for c in self.columns]}

    def describe(self) -> str:
        if self.watermark is None:
            head = "The model has not been materialized yet: run `asemic-cli model refresh`."
        else:
            head = (f"Materialized {self.first_day} .. {self.watermark}: {self.partitions} day partition(s), "
                    f"{self.rows:,} rows")
        lines = [head]
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


def model_status(project: ResolvedProject, store: ModelStore) -> ModelStatus:
    parts, states = store.snapshot(DAILY)
    schema = generate_schema(project)
    columns = []
    current = {c.name: c for c in schema.table(DAILY).columns if c.kind != "key"}
    for name, spec in current.items():
        state = states.get(name)
        if state is None:
            columns.append(ColumnStatus(name, "new", None, None, None))
        else:
            fresh = state.def_hash == spec.def_hash
            columns.append(ColumnStatus(name, "fresh" if fresh else "stale", state.first_day, state.last_day,
                                        state.job_id))
    for name, state in states.items():
        if name not in current and name not in ("entity_id", "date"):
            columns.append(ColumnStatus(name, "removed", state.first_day, state.last_day, state.job_id))
    return ModelStatus(
        watermark=parts[-1].day if parts else None, first_day=parts[0].day if parts else None,
        partitions=len(parts), rows=sum(p.rows for p in parts), columns=columns, running_job=store.lock.holder(),
    )
