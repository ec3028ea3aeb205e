"""Previews of drafts: a property or KPI definition that is not saved yet, evaluated on
a deterministic sample of users over a recent window, straight from the events, next
to the values under the saved definition (the impact of the edit)."""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field

import polars as pl
from sqlglot import exp

from asemic_core.config.loader import ENTITY_DIR, Located, ProjectFiles
from asemic_core.config.models import Kpi, Property
from asemic_core.config.yaml_edit import edit_yaml_text
from asemic_core.config.yaml_io import parse_yaml
from asemic_core.engine import annotate_row_order, source_day_range
from asemic_core.errors import AsemicError
from asemic_core.issues import Issue
from asemic_core.names import quote_name
from asemic_core.query.kpi import KpiRequest, run_kpi_query
from asemic_core.query.model_source import ModelSource, SourcePlan
from asemic_core.semantic.resolve import resolve
from asemic_core.sql.model_sql import ModelQueryBuilder, ModelRequest
from asemic_core.sql.render import render
from asemic_core.sql.sources import quoted, registrations_relation
from asemic_core.validation import validate_files

SAMPLE_BUCKETS = 10_000


@dataclass
class Draft:
    kind: str  # "property" or "kpi"
    id: str
    model: Property | Kpi
    file: str | None = None  # where it will be saved (relative); default: its current file or <id>.yml
    template_value: object = None  # a templated KPI (`retention_d{}`): which value to preview (default: the first)


@dataclass
class PreviewResult:
    draft: Draft
    issues: list[Issue]
    sample_users: int = 0
    total_users: int = 0
    day_from: dt.date | None = None
    day_to: dt.date | None = None
    values: pl.DataFrame | None = None  # property: entity_id, date, value, saved_value
    points: pl.DataFrame | None = None  # KPI: axis, value, saved_value
    changed: int = 0
    is_new: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(i.is_error for i in self.issues)


def _collection(kind: str) -> str:
    return "properties" if kind == "property" else "kpis"


def draft_files(files: ProjectFiles, draft: Draft) -> ProjectFiles:
    """A copy of ``files`` in which the draft replaces (or joins) the saved object."""
    collection = _collection(draft.kind)
    saved: dict[str, Located] = getattr(files, collection)
    existing = saved.get(draft.id)
    rel = draft.file or (existing.file if existing else f"{ENTITY_DIR}/{collection}/{draft.id}.yml")
    doc = files.documents.get(rel)
    text = doc.text if doc is not None else f"{collection}:\n"
    new_text = edit_yaml_text(text, rel, (collection, draft.id), draft.model, model_type=type(draft.model))
    new_doc, issues = parse_yaml(new_text, rel)
    out = copy.copy(files)
    out.documents = dict(files.documents)
    out.issues = [i for i in files.issues if i.file != rel] + issues
    collection_copy = dict(saved)
    if new_doc is not None:
        out.documents[rel] = new_doc
        for other_id, located in saved.items():  # objects sharing the file now live in the new text
            if located.file == rel:
                collection_copy[other_id] = Located(other_id, located.model, new_doc, located.path)
        collection_copy[draft.id] = Located(draft.id, draft.model, new_doc, (collection, draft.id))
    setattr(out, collection, collection_copy)
    return out


def draft_issues(files: ProjectFiles, draft: Draft) -> list[Issue]:
    """Issues of the draft itself, plus any it causes elsewhere that were not there before."""
    before = set(validate_files(files))
    after = validate_files(draft_files(files, draft))
    return [i for i in after if i not in before or i.object_id == draft.id]


def sample_filter(per_bucket: int) -> exp.Expression:
    return exp.LT(this=exp.Mod(this=exp.func("hash", quoted("entity_id")), expression=exp.Literal.number(SAMPLE_BUCKETS)),
                  expression=exp.Literal.number(per_bucket))


class SampleSource(ModelSource):
    """Everything computed from the events, for a sample of users, over a window."""

    def __init__(self, base: ModelSource, resolved, user_filter, day_from, day_to) -> None:
        super().__init__(resolved, base.store, base.warehouse_path, base.settings)
        self._executor = base.executor
        self.user_filter = user_filter
        self.window = (day_from, day_to)

    def close(self) -> None:  # the executor belongs to the base source
        self._executor = None

    def available_range(self, current=None):
        return self.window

    def plan(self, columns, day_from, day_to) -> SourcePlan:
        first, last = self.window
        wanted = [c for c in dict.fromkeys(columns) if c not in ("entity_id", "date")]
        return SourcePlan([], wanted, max(day_from or first, first), min(day_to or last, last), [])

    def relation(self, plan: SourcePlan, user_filter=None, rows: str = "all", registered=None):
        return super().relation(plan, self.user_filter, rows, registered)


def _window(source: ModelSource, days: int) -> tuple[dt.date, dt.date]:
    watermark = source.store.watermark()
    if watermark:
        last = dt.date.fromisoformat(watermark)
    else:
        day_range = source_day_range(source.con, source.resolved)
        if day_range is None:
            raise AsemicError("the event tables hold no registrations or no activity yet")
        last = day_range[1]
    return last - dt.timedelta(days=days - 1), last


def _sample(source: ModelSource, sample_users: int) -> tuple[exp.Expression, int, int]:
    query = exp.select(exp.Count(this=exp.Star())).from_(
        exp.alias_(registrations_relation(source.resolved), "r", table=True))
    total = source.con.sql(render(query)).fetchall()[0][0]
    per_bucket = SAMPLE_BUCKETS if total <= sample_users else max(1, SAMPLE_BUCKETS * sample_users // max(total, 1))
    count_query = exp.select(exp.Count(this=exp.Star())).from_(
        exp.alias_(registrations_relation(source.resolved), "r", table=True)).where(sample_filter(per_bucket))
    sampled = source.con.sql(render(count_query)).fetchall()[0][0]
    return sample_filter(per_bucket), sampled, total


def preview(source: ModelSource, files: ProjectFiles, draft: Draft, sample_users: int = 500,
            days: int = 28) -> PreviewResult:
    issues = draft_issues(files, draft)
    saved = getattr(files, _collection(draft.kind)).get(draft.id)
    result = PreviewResult(draft, issues, is_new=saved is None)
    if not result.ok:
        return result
    user_filter, result.sample_users, result.total_users = _sample(source, sample_users)
    day_from, day_to = _window(source, days)
    result.day_from, result.day_to = day_from, day_to
    draft_project = resolve(draft_files(files, draft))
    annotate_row_order(source.con, draft_project)
    if draft.kind == "property":
        result.values = _property_values(source, draft_project, draft.id, user_filter, day_from, day_to,
                                         saved is not None)
        if saved is not None:
            diff = result.values.filter(~pl.col("value").eq_missing(pl.col("saved_value")))
            result.changed = diff.height
    else:
        result.points = _kpi_points(source, draft_project, draft, user_filter, day_from, day_to, saved is not None)
        if saved is not None:
            result.changed = result.points.filter(~pl.col("value").eq_missing(pl.col("saved_value"))).height
    return result


def _property_values(source, draft_project, prop_id, user_filter, day_from, day_to, has_saved) -> pl.DataFrame:
    def values(project) -> pl.DataFrame:
        # every sampled user on every day of the window, as the analyst reads it
        request = ModelRequest(properties=[prop_id], day_from=day_from, day_to=day_to, user_filter=user_filter, dense=True)
        sql = render(ModelQueryBuilder(project).build(request))
        return source.con.sql(f"SELECT entity_id, date, {quote_name(prop_id)} AS value FROM ({sql}) "
                              "ORDER BY entity_id, date").pl()

    new = values(draft_project)
    if not has_saved:
        return new.with_columns(pl.lit(None).alias("saved_value"))
    old = values(source.resolved).rename({"value": "saved_value"})
    return new.join(old, on=["entity_id", "date"], how="left")


def expanded_kpi_id(project, draft: Draft) -> str:
    """The id to query for a draft: itself, or one expansion of a templated KPI."""
    if draft.id in project.kpis:
        return draft.id
    expansions = [k for k in project.kpis.values() if k.template_id == draft.id]
    if not expansions:
        raise AsemicError(f"KPI {draft.id!r} has no template values to preview")
    chosen = [k for k in expansions if str(k.template_value) == str(draft.template_value)]
    return (chosen or expansions)[0].id


def _kpi_points(source, draft_project, draft: Draft, user_filter, day_from, day_to, has_saved) -> pl.DataFrame:
    kpi_id = expanded_kpi_id(draft_project, draft)
    axis = "date" if "date" in draft_project.kpis[kpi_id].x_axes else "cohort_day"
    request = KpiRequest(kpi_id, day_from, day_to, axis)

    def points(project) -> pl.DataFrame:
        sample = SampleSource(source, project, user_filter, day_from, day_to)
        return run_kpi_query(sample, request).points

    new = points(draft_project)
    if not has_saved or kpi_id not in source.resolved.kpis:
        return new.with_columns(pl.lit(None, dtype=pl.Float64).alias("saved_value"))
    old = points(source.resolved).rename({"value": "saved_value"})
    return new.join(old, on=[axis], how="left")
