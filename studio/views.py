"""Cached readers and small renderers of the Overview, Events, Schema and Export pages.

Like ``studio.session``, caches are keyed on plain values: the project root and the config
version (a hash of the config files), plus the warehouse file's modification time for
warehouse reads, so an edit on disk is seen at the next rerun.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import streamlit as st

from studio.session import config_version
from asemic_core.config.loader import ProjectFiles
from asemic_core.project import Project


def version_key(project: Project) -> tuple[str, str]:
    return str(project.root), config_version(project)


@st.cache_resource(show_spinner=False, max_entries=4)
def _files(root: str, version: str) -> ProjectFiles:
    return Project(root).files()


def project_files(project: Project) -> ProjectFiles:
    """The parsed config (shared between reruns: read it, never change it)."""
    return _files(*version_key(project))


@st.cache_resource(show_spinner=False, max_entries=4)
def _lineage(root: str, version: str):
    from asemic_core.lineage import implicit_sources, lineage_graph
    from asemic_core.semantic.graph import build_graph

    resolved = Project(root).resolved()
    return lineage_graph(build_graph(resolved), implicit_sources(resolved))


def lineage(project: Project):
    """The lineage graph as shown (hidden sources folded); see ``asemic_core.lineage``."""
    return _lineage(*version_key(project))


def lineage_dot(project: Project, focus: str | None) -> str:
    from asemic_core.lineage import to_dot

    return to_dot(lineage(project), focus)


@st.cache_data(show_spinner=False, max_entries=4)
def _schema(root: str, version: str):
    return Project(root).schema()


def model_schema(project: Project):
    return _schema(*version_key(project))


# ------------------------------------------------------------------------- warehouse


def warehouse_key(project: Project, files: ProjectFiles) -> tuple[str, int] | None:
    """(path, a stamp that changes with its contents) of a DuckDB file or a local Parquet
    directory (read with DuckDB); None when the studio cannot list the warehouse's tables."""
    path = project.warehouse_path(files)
    if path is None or not (path.is_file() or path.is_dir()):
        return None
    if path.is_dir():
        return str(path), max((p.stat().st_mtime_ns for p in path.rglob("*.parquet")), default=0)
    return str(path), path.stat().st_mtime_ns


@st.cache_data(show_spinner=False, max_entries=8)
def warehouse_tables(path: str, mtime: int) -> dict[str, dict[str, str]]:
    """Table -> {column: warehouse type}, for every table of the warehouse."""
    from asemic_core.warehouse import Warehouse

    with Warehouse(Path(path)) as warehouse:
        return {t: {n: c.warehouse_type for n, c in (warehouse.columns(t) or {}).items()} for t in warehouse.tables()}


@st.cache_data(show_spinner="Reading sample rows...", max_entries=16)
def warehouse_sample(path: str, mtime: int, table: str, limit: int = 20):
    """(first ``limit`` rows of ``table``, None), or (None, why they cannot be read)."""
    import duckdb

    from asemic_core.errors import AsemicError
    from asemic_core.warehouse import Warehouse

    try:
        with Warehouse(Path(path)) as warehouse:
            return warehouse.sample(table, limit), None
    except AsemicError as err:
        return None, err.message
    except duckdb.Error as err:
        return None, f"cannot read {table}: {str(err).splitlines()[0]}"


# --------------------------------------------------------------------------- archives


@st.cache_data(show_spinner=False, max_entries=4)
def _export_bytes(root: str, version: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="asemic-export-") as tmp:
        out = Path(tmp) / "config.zip"
        Project(root).export_zip(out)
        return out.read_bytes()


def export_bytes(project: Project) -> bytes:
    return _export_bytes(*version_key(project))


def import_bytes(project: Project, name: str, data: bytes):
    """Import an uploaded archive (see ``Project.import_zip``); returns its warnings."""
    with tempfile.TemporaryDirectory(prefix="asemic-import-") as tmp:
        # Keep the uploaded name: messages name the archive as the user knows it.
        path = Path(tmp) / (Path(name).name or "archive.zip")
        path.write_bytes(data)
        return project.import_zip(path)


@st.cache_data(show_spinner=False, max_entries=4, ttl=30)
def _git_baseline(root: str, version: str) -> dict[str, str] | None:
    from asemic_core.config.diff import git_head_texts

    return git_head_texts(Path(root))


def git_baseline(project: Project) -> dict[str, str] | None:
    """The config files at git HEAD, None outside a git repository (the ttl catches new commits)."""
    return _git_baseline(*version_key(project))


# --------------------------------------------------------------------------- rendering


def when(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes}m {sec:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def jobs_rows(jobs) -> list[dict]:
    return [
        {"job": j.id, "kind": j.kind, "status": j.status, "origin": j.origin, "started": when(j.started_at or j.created_at),
         "duration": duration(j.duration), "result": j.error or j.message or ""}
        for j in jobs
    ]


# ---------------------------------------------------------------------- model status


def status_key(status) -> tuple:
    """A plain value that changes whenever the materialized model does."""
    return status.watermark, status.rows, tuple((c.name, c.state, c.job_id) for c in status.columns)


@st.cache_data(show_spinner="Planning the next update...", max_entries=8)
def _update_plan(root: str, version: str, state: tuple) -> tuple[str | None, str | None]:
    from asemic_core.errors import AsemicError

    try:
        return Project(root).plan_update().describe(), None
    except AsemicError as err:
        return None, err.message


def update_plan(project: Project, status) -> tuple[str | None, str | None]:
    """(the plan of the next ``update`` as text, None), or (None, why there is none)."""
    return _update_plan(*version_key(project), status_key(status))


STATE_COLORS = {"fresh": "#16a34a", "stale": "#ea580c", "new": "#2563eb", "removed": "#94a3b8"}


def coverage_chart(status, order: list[str]):
    """One bar per column over the days it is materialized (inclusive), colored by state;
    columns never materialized get a label instead of a bar."""
    import altair as alt
    import polars as pl

    from studio.chart_axes import date_axis

    position = {name: i for i, name in enumerate(order)}
    columns = sorted(status.columns, key=lambda c: (position.get(c.name, len(order)), c.name))
    start = dt.date.fromisoformat(status.first_day) if status.first_day else dt.date.today()
    rows = []
    for c in columns:
        first = dt.date.fromisoformat(c.first_day) if c.first_day else None
        last = dt.date.fromisoformat(c.last_day) if c.last_day else None
        rows.append({
            "column": c.name, "state": c.state,
            "from": first or start, "to": (last + dt.timedelta(days=1)) if last else start,
            "days": f"{c.first_day} .. {c.last_day}" if first else "not materialized yet",
            "note": "" if first else "not materialized yet",
        })
    data = pl.DataFrame(rows)
    names = [r["column"] for r in rows]
    states = list(STATE_COLORS)
    color = alt.Color("state:N", scale=alt.Scale(domain=states, range=[STATE_COLORS[s] for s in states]),
                      legend=alt.Legend(orient="top", title=None))
    y = alt.Y("column:N", sort=names, title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    tooltip = [alt.Tooltip("column:N"), alt.Tooltip("state:N"), alt.Tooltip("days:N", title="materialized")]
    base = alt.Chart(data)
    bars = base.transform_filter(alt.datum.note == "").mark_bar(cornerRadius=2, height=12).encode(
        x=alt.X("from:T", title="materialized days", axis=date_axis()), x2="to:T", y=y, color=color,
        tooltip=tooltip)
    labels = base.transform_filter(alt.datum.note != "").mark_text(align="left", dx=4, color=STATE_COLORS["new"]).encode(
        x="from:T", y=y, text="note:N", tooltip=tooltip)
    return alt.layer(bars, labels).properties(height=max(120, 22 * len(rows)))


# --------------------------------------------------------------------------- engine


def engine_summary(project: Project, files: ProjectFiles) -> str:
    """Which engine runs the jobs and where the queries run (Overview's engine line)."""
    settings = project.engine_settings(files).spark if files.deployment is not None else None
    if settings is None:
        return "Engine: **DuckDB** (embedded): jobs and queries run in this process."
    catalog = files.deployment.model.warehouse.type == "spark_catalog"
    events = "the events from the Spark catalog" if catalog else "the events from Parquet tables"
    queries = ("queries read the model's Parquet files with DuckDB" if settings.local_tables and not catalog
               else "queries run on Spark")
    return (f"Engine: **Spark** `{settings.master}`: jobs run on Spark ({events}, the model as "
            f"{settings.table_format} tables); {queries}.")
