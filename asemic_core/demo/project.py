"""``asemic-cli demo init``: a demo warehouse plus a starter config that uses it."""

from __future__ import annotations

from pathlib import Path

from asemic_core.config import writer
from asemic_core.config.models import DeploymentConfig, EntityConfig, EventTable
from asemic_core.demo.dataset import SCHEMA, TABLES, DemoSpec, generate_warehouse
from asemic_core.demo.starter import starter_library
from asemic_core.errors import AsemicError
from asemic_core.warehouse import data_type_of

WAREHOUSE_FILE = "warehouse.duckdb"
PARQUET_DIR = "events"  # the Spark demo's events: events/<schema>/<table>/*.parquet

# What each demo table means to asemic: event id, label, table tags, column roles.
DEMO_EVENTS: dict[str, dict] = {
    "registration": {"table": "registrations", "label": "Registration", "tags": ["registration_event"],
                     "registration_columns": ["platform", "country", "build_version"]},
    "session": {"table": "sessions", "label": "Session start", "tags": ["activity_event"]},
    "purchase": {"table": "purchases", "label": "In-app purchase", "tags": ["payment_transaction_event"],
                 "amount_column": "amount_usd"},
    "ad_view": {"table": "ad_views", "label": "Ad view", "tags": []},
    "level_completion": {"table": "level_completions", "label": "Level completed", "tags": []},
}


def demo_events() -> dict[str, EventTable]:
    events: dict[str, EventTable] = {}
    for event_id, spec in DEMO_EVENTS.items():
        columns = {}
        for name, duck_type in TABLES[spec["table"]].items():
            tags = []
            if name == "user_id":
                tags.append("entity_id_column")
            elif name == "event_ts":
                tags.append("event_timestamp_column")
            elif name == "event_date":
                tags.append("date_column")
            if name in spec.get("registration_columns", ()):
                tags.append("registration_property")
            if name == spec.get("amount_column"):
                tags.append("transaction_amount_column")
            column = {"data_type": data_type_of(duck_type).value}
            if tags:
                column["tags"] = tags
            columns[name] = column
        body = {"table_name": f"{SCHEMA}.{spec['table']}", "label": spec["label"], "columns": columns}
        if spec["tags"]:
            body["tags"] = spec["tags"]
        events[event_id] = EventTable.model_validate(body)
    return events


def demo_entity() -> EntityConfig:
    return EntityConfig.model_validate({
        "data_model_schema": "asemic_model",
        "cohorted_daily_kpis_days": [0, 1, 3, 7, 14, 28],
        "active_days": 30,
        "model_settings": {"incremental_update_frequency": "1d", "lookback_days": 3},
    })


def write_parquet_events(root: Path, spec: DemoSpec, reporter=None) -> dict[str, int]:
    """The demo events as Parquet tables (``events/<schema>/<table>/part-0.parquet``, the
    column types of the DuckDB demo), readable by Spark and DuckDB alike."""
    import shutil

    import duckdb

    from asemic_core.names import quote_name, sql_string

    target = root / PARQUET_DIR
    staging = root / f".{PARQUET_DIR}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        counts = generate_warehouse(staging / WAREHOUSE_FILE, spec, reporter=reporter)
        con = duckdb.connect(str(staging / WAREHOUSE_FILE), read_only=True)
        try:
            con.execute("SET memory_limit = '2GB'")
            for name in TABLES:
                folder = staging / SCHEMA / name
                folder.mkdir(parents=True)
                con.execute(f"COPY (SELECT * FROM {quote_name(SCHEMA)}.{quote_name(name)}) TO "
                            f"{sql_string(str(folder / 'part-0.parquet'))} (FORMAT parquet)")
        finally:
            con.close()
        (staging / WAREHOUSE_FILE).unlink()
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return counts


def init_demo(directory: Path | str, spec: DemoSpec = DemoSpec(), reporter=None, force: bool = False,
              engine: str = "duckdb") -> dict[str, int]:
    """Write the demo warehouse and starter config into ``directory``; return table row
    counts. ``engine="spark"``: the events as Parquet tables and a config running on Spark."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise AsemicError(f"{root} exists and is not a directory")
    if (root / "asemic.yml").exists() and not force:
        raise AsemicError(f"{root} already holds an asemic project (asemic.yml exists); choose another directory")
    root.mkdir(parents=True, exist_ok=True)
    if engine == "spark":
        counts = write_parquet_events(root, spec, reporter)
        deployment = {"name": "Demo game", "warehouse": {"type": "parquet", "path": PARQUET_DIR},
                      "engine": {"type": "spark", "master": "local[2]"}}
    else:
        counts = generate_warehouse(root / WAREHOUSE_FILE, spec, reporter=reporter)
        deployment = {"name": "Demo game", "warehouse": {"type": "duckdb", "path": WAREHOUSE_FILE}}
    writer.save_deployment(root, DeploymentConfig.model_validate(deployment))
    entity = demo_entity()
    writer.save_entity_config(root, entity)
    events = demo_events()
    for event_id, table in events.items():
        writer.save_event(root, event_id, table)
    properties, kpis = starter_library(events, entity)
    for stem, items in properties.items():
        for prop_id, prop in items.items():
            writer.save_property(root, prop_id, prop, file=f"userentity/properties/{stem}.yml")
    for stem, items in kpis.items():
        for kpi_id, kpi in items.items():
            writer.save_kpi(root, kpi_id, kpi, file=f"userentity/kpis/{stem}.yml")
    return counts
