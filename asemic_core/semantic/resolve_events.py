"""Event tables as the engine sees them, including the two implicit tables."""

from __future__ import annotations

from asemic_core.config.loader import ProjectFiles
from asemic_core.config.models import DataType
from asemic_core.semantic.model import ACTIVITY, REGISTRATIONS, ResolvedEvent


def resolve_events(files: ProjectFiles) -> dict[str, ResolvedEvent]:
    events: dict[str, ResolvedEvent] = {}
    registration_columns: dict[str, DataType] = {}
    for event_id, located in files.events.items():
        table = located.model
        def first(tag: str) -> str | None:
            tagged = table.columns_tagged(tag)
            return tagged[0] if tagged else None

        reg_cols = tuple(table.columns_tagged("registration_property"))
        if "registration_event" in table.tags:
            for name in reg_cols:
                registration_columns.setdefault(name, table.columns[name].data_type)
        events[event_id] = ResolvedEvent(
            id=event_id,
            columns={name: column.data_type for name, column in table.columns.items()},
            table_name=table.table_name,
            entity_id_column=first("entity_id_column"),
            timestamp_column=first("event_timestamp_column"),
            date_column=first("date_column"),
            where=table.where,
            tags=tuple(table.tags),
            registration_columns=reg_cols,
            located=located,
        )
    aliases = _implicit_aliases(events)
    if REGISTRATIONS not in events:
        events[REGISTRATIONS] = ResolvedEvent(
            id=REGISTRATIONS,
            columns={"entity_id": DataType.STRING, "ts": DataType.DATETIME, "date": DataType.DATE, **registration_columns},
            entity_id_column="entity_id",
            timestamp_column="ts",
            date_column="date",
            registration_columns=tuple(registration_columns),
            column_aliases={k: v for k, v in aliases.items() if k not in registration_columns},
        )
    if ACTIVITY not in events:
        events[ACTIVITY] = ResolvedEvent(
            id=ACTIVITY,
            columns={"entity_id": DataType.STRING, "ts": DataType.DATETIME, "date": DataType.DATE},
            entity_id_column="entity_id",
            timestamp_column="ts",
            date_column="date",
            column_aliases=dict(aliases),
        )
    return events


def _implicit_aliases(events: dict[str, ResolvedEvent]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for event in events.values():
        if not ({"registration_event", "activity_event"} & set(event.tags)):
            continue
        for own, canonical in ((event.date_column, "date"), (event.timestamp_column, "ts"),
                               (event.entity_id_column, "entity_id")):
            if own and own != canonical:
                aliases.setdefault(own, canonical)
    return aliases


def registration_date_aliases(events: dict[str, ResolvedEvent]) -> set[str]:
    """The registration tables' own date column names, which alias the base `date`."""
    names = set()
    for event in events.values():
        if "registration_event" in event.tags and event.date_column:
            names.add(event.date_column)
    return names
