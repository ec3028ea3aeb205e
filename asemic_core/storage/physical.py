"""The physical tables of the model: one Delta table per model table, as published."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asemic_core.backend.seam import ACTIVE_PARTITION
from asemic_core.storage.store import PARTITION_BY, ModelStore, is_column_table


@dataclass(frozen=True)
class PhysicalTable:
    """One Delta table of the published model version."""

    name: str
    location: str
    delta_version: int  # the table version the published model version names
    model_version: int  # the published model version
    files: int  # data files of that table version
    rows: int
    size_bytes: int  # every file under the table's directory (all kept versions and the log)
    partitioned_by: str | None  # the Delta partition columns ("date, __active": by day, then activity)
    holds: tuple[str, ...] = ()  # a column table's columns (their values replace the daily table's)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def directory_size(path: Path) -> int:
    """Bytes of every regular file under ``path``."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file() and not p.is_symlink())


def physical_tables(store: ModelStore) -> list[PhysicalTable]:
    """The tables of the published model version, by name; empty before the first job."""
    current = store.current()
    if current is None:
        return []
    held: dict[str, list[str]] = {}
    for state in current.columns.values():
        if is_column_table(state.table):
            held.setdefault(state.table, []).append(state.name)
    out = []
    for name, version in sorted(current.tables.items()):
        snapshot = store.tables.snapshot(name, version)
        location = Path(snapshot.location)
        partitions = snapshot.partition_by or PARTITION_BY.get(name)
        if partitions and snapshot.split:
            partitions = f"{partitions}, {ACTIVE_PARTITION}"
        out.append(PhysicalTable(name, str(location), version, current.version, len(snapshot.files), snapshot.rows,
                                 directory_size(location), partitions, tuple(held.get(name, ()))))
    return out
