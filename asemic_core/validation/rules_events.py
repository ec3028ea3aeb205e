"""Rules on event tables (SEMANTICS 3)."""

from __future__ import annotations

from collections.abc import Iterator

from asemic_core.config.models import COLUMN_TAGS, TABLE_TAGS, DataType
from asemic_core.issues import Issue, Severity
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS
from asemic_core.semantic.placeholders import references
from asemic_core.validation.context import Context, issue_at
from asemic_core.validation.expressions import expression_problem

# Generator hints of older Asemic versions: accepted silently, they change nothing here.
LEGACY_HINT_TAGS = {"last_login_property", "generate_last_value_property"}

REQUIRED_COLUMN_TAGS = {"entity_id_column": "the user id", "event_timestamp_column": "the event timestamp"}
TAG_TYPES = {
    "event_timestamp_column": {DataType.DATETIME},
    "date_column": {DataType.DATE},
    "transaction_amount_column": {DataType.NUMBER, DataType.INTEGER},
}


def check_events(ctx: Context) -> Iterator[Issue]:
    for event_id, located in ctx.files.events.items():
        table = located.model
        if event_id in (REGISTRATIONS, ACTIVITY):
            yield issue_at(located, f"event id {event_id!r} is reserved for the implicit table of that name",
                           rule="event-reserved-id")
        for tag, what in REQUIRED_COLUMN_TAGS.items():
            tagged = table.columns_tagged(tag)
            if not tagged:
                yield issue_at(located, f"no column is tagged {tag} ({what}); exactly one is required",
                               "columns", rule="event-column-tags")
            elif len(tagged) > 1:
                yield issue_at(located, f"{len(tagged)} columns are tagged {tag} ({', '.join(tagged)}); exactly one is allowed",
                               "columns", tagged[1], "tags", rule="event-column-tags")
        for index, tag in enumerate(table.tags):
            if tag not in TABLE_TAGS:
                yield issue_at(located, f"unknown table tag {tag!r} has no effect (known: {', '.join(TABLE_TAGS)})",
                               "tags", index, rule="unknown-tag", severity=Severity.WARNING)
        for name, column in table.columns.items():
            for index, tag in enumerate(column.tags):
                if tag not in COLUMN_TAGS and tag not in LEGACY_HINT_TAGS and not tag.startswith("user_entity."):
                    yield issue_at(located, f"unknown column tag {tag!r} on {name!r} has no effect",
                                   "columns", name, "tags", index, rule="unknown-tag", severity=Severity.WARNING)
        dates = table.columns_tagged("date_column")
        if len(dates) > 1:
            yield issue_at(located, f"{len(dates)} columns are tagged date_column ({', '.join(dates)}); at most one is allowed",
                           "columns", dates[1], "tags", rule="event-column-tags")
        for name, column in table.columns.items():
            for tag in column.tags:
                allowed = TAG_TYPES.get(tag)
                if allowed and column.data_type not in allowed:
                    expected = " or ".join(sorted(t.value for t in allowed))
                    yield issue_at(located, f"column {name!r} is tagged {tag} but has data_type {column.data_type.value}; expected {expected}",
                                   "columns", name, "data_type", rule="event-column-type")
        if table.where:
            problem = expression_problem(table.where, allow_aggregates=False)
            if problem:
                yield issue_at(located, f"invalid where: {problem}", "where", rule="expression")
            for ref in references(table.where):
                # `{level_started.level}` names a field of a STRUCT column, declared by its path.
                written = ref.name if ref.namespace is None else f"{ref.namespace}.{ref.name}"
                if written not in table.columns:
                    yield issue_at(located, f"where references {{{written}}}, which is not a column of {event_id}",
                                   "where", rule="unknown-reference")
        for index, enrichment in enumerate(table.enrichments):
            for join_index, join in enumerate(enrichment.on):
                if join.source not in table.columns:
                    yield issue_at(located, f"enrichment joins on source column {join.source!r}, which is not a column of {event_id}",
                                   "enrichments", index, "on", join_index, "source", rule="unknown-reference")

    tagged_tables = {
        tag: [eid for eid, loc in ctx.files.events.items() if tag in loc.model.tags]
        for tag in ("registration_event", "activity_event")
    }
    # An event table that failed to load (its own issue says why) may be the tagged one.
    if (ctx.files.events or ctx.files.entity) and not ctx.files.failed["events"]:
        for tag, ids in tagged_tables.items():
            if not ids:
                yield Issue(_events_location(ctx), None, f"no event table is tagged {tag}; at least one is required",
                            field="tags", rule="event-table-tags")
    yield from _registration_column_types(ctx)


def _events_location(ctx: Context) -> str:
    for located in ctx.files.events.values():
        return located.file.rsplit("/", 1)[0]
    return "userentity/events"


def _registration_column_types(ctx: Context) -> Iterator[Issue]:
    seen: dict[str, tuple[DataType, str]] = {}
    for event_id, located in ctx.files.events.items():
        if "registration_event" not in located.model.tags:
            continue
        for name in located.model.columns_tagged("registration_property"):
            data_type = located.model.columns[name].data_type
            if name in seen and seen[name][0] is not data_type:
                yield issue_at(located, f"registration column {name!r} is {data_type.value} here but "
                               f"{seen[name][0].value} in {seen[name][1]}", "columns", name, "data_type",
                               rule="registration-column-type")
            seen.setdefault(name, (data_type, event_id))
