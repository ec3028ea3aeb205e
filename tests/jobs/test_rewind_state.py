"""A rewind takes each user's last activity before its first recomputed day from the stored
rows (`user_state.stored_state`), not from the activity history: the events before the
rewound range are unchanged. Hand-worked days_since_last_active after a rewind that adds
a session, for a user whose last activity is long before the range, a user active before
registering (inside the recomputed days), and a user active once. The range holds the
first of a month, where every user has a stored row carrying their last activity day.
A config that defines its own ``last_activity_date`` stores that formula in the column: the
rewind then reads the activity history, and days_since_last_active stays activity-based."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from asemic_core.project import Project

D0 = dt.date(2026, 3, 2)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def _project(root: Path, own_last_activity: bool = False) -> Project:
    entity = root / "userentity"
    (entity / "events").mkdir(parents=True)
    (root / "asemic.yml").write_text("warehouse: {type: duckdb, path: warehouse.duckdb}\n")
    (entity / "config.yml").write_text("data_model_schema: m\ncohorted_daily_kpis_days: [0]\nactive_days: 3\n")
    columns = {"user_id": {"data_type": "STRING", "tags": ["entity_id_column"]},
               "event_ts": {"data_type": "DATETIME", "tags": ["event_timestamp_column"]}}
    for name, tag in (("registrations", "registration_event"), ("sessions", "activity_event")):
        (entity / "events" / f"{name}.yml").write_text(yaml.safe_dump(
            {"table_name": f"raw.{name}", "tags": [tag], "columns": columns}))
    if own_last_activity:  # the column holds the registration day, not the last activity
        (entity / "properties").mkdir()
        (entity / "properties" / "own.yml").write_text(yaml.safe_dump({"properties": {"last_activity_date": {
            "data_type": "DATE", "computed_property": {"select": "{registration_date}"}}}}))
    registrations = [("a0", 0), ("u1", 0), ("u2", 35), ("u3", 2)]
    sessions = [("a0", n) for n in range(41)] + [("u1", 1), ("u1", 3), ("u2", 5), ("u2", 36), ("u3", 2)]
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("CREATE SCHEMA raw")
        for table, rows in (("registrations", registrations), ("sessions", sessions)):
            con.execute(f"CREATE TABLE raw.{table} (user_id VARCHAR, event_ts TIMESTAMP)")
            con.executemany(f"INSERT INTO raw.{table} VALUES (?, ?)",
                            [[user, dt.datetime.combine(day(n), dt.time(9))] for user, n in rows])
    return Project(root)


def _since_last_active(project: Project) -> dict[tuple[str, int], int | None]:
    frame = project.property_values("days_since_last_active")
    return {(row["entity_id"], (row["date"] - D0).days): row["value"] for row in frame.to_dicts()}


@pytest.mark.parametrize("own_last_activity", [False, True], ids=["base", "own-last-activity-date"])
def test_a_rewind_counts_from_the_last_activity_before_its_days(tmp_path: Path, own_last_activity: bool) -> None:
    project = _project(tmp_path / "p", own_last_activity)
    project.refresh(origin="test")
    with duckdb.connect(str(project.root / "warehouse.duckdb")) as con:  # u1 comes back on day 31
        con.execute("INSERT INTO raw.sessions VALUES ('u1', ?)", [dt.datetime.combine(day(31), dt.time(9))])
    result = project.rewind(day(28), day(32), origin="test")
    assert result.first_day == day(28) and day(30) == dt.date(2026, 4, 1)
    got = _since_last_active(project)
    # u1: last active on day 3 before the range, on day 31 in it
    assert [got[("u1", n)] for n in (3, 27, 29, 30, 31, 32, 40)] == [0, 24, 26, 27, 0, 1, 9]
    # u2: active on day 5, registered on day 35 (after the first recomputed day), active on 36
    assert [got[("u2", n)] for n in (35, 36, 40)] == [30, 0, 4]
    assert ("u2", 34) not in got
    # u3: active once, on its registration day
    assert [got[("u3", n)] for n in (2, 30, 40)] == [0, 28, 38]
    if own_last_activity:  # the config's formula, on the rewound days too
        values = {(r["entity_id"], (r["date"] - D0).days): r["value"]
                  for r in project.property_values("last_activity_date").to_dicts()}
        assert [values[("u1", n)] for n in (3, 31, 40)] == [day(0)] * 3


def _users(project: Project) -> list[tuple]:
    with duckdb.connect() as con:
        from asemic_core.backend.duckdb_executor import DuckDBExecutor

        store = project.model_store()
        relation = DuckDBExecutor(con).relation(store.snapshot("users", store.current()))
        return sorted(con.sql(relation.sql("duckdb")).fetchall())


def test_a_rewind_rewrites_the_users_table_only_when_registrations_changed(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    project.refresh(origin="test")
    users_version = project.model_store().current().tables["users"]
    project.rewind(day(28), day(32), origin="test")  # nothing changed: the same users table version
    assert project.model_store().current().tables["users"] == users_version
    with duckdb.connect(str(project.root / "warehouse.duckdb")) as con:  # u4 registers on day 30; u2 earlier
        con.execute("INSERT INTO raw.registrations VALUES ('u4', ?), ('u2', ?)",
                    [dt.datetime.combine(day(30), dt.time(8)), dt.datetime.combine(day(29), dt.time(8))])
    project.rewind(day(28), day(32), origin="test")
    assert project.model_store().current().tables["users"] != users_version
    got = {row[0]: row[2] for row in _users(project)}  # entity_id -> registration_date
    assert got == {"a0": day(0), "u1": day(0), "u2": day(29), "u3": day(2), "u4": day(30)}
    assert _since_last_active(project)[("u4", 30)] is None and ("u4", 29) not in _since_last_active(project)
    with duckdb.connect(str(project.root / "warehouse.duckdb")) as con:  # u4's registration removed again
        con.execute("DELETE FROM raw.registrations WHERE user_id = 'u4'")
    project.rewind(day(28), day(32), origin="test")
    assert "u4" not in {row[0] for row in _users(project)}
    assert not any(user == "u4" for user, _n in _since_last_active(project))
    # the same users, u2's first registration moved within its day: a value differs, the table
    # is rewritten
    users_version = project.model_store().current().tables["users"]
    with duckdb.connect(str(project.root / "warehouse.duckdb")) as con:
        con.execute("UPDATE raw.registrations SET event_ts = ? WHERE user_id = 'u2' AND event_ts = ?",
                    [dt.datetime.combine(day(29), dt.time(7)), dt.datetime.combine(day(29), dt.time(8))])
    project.rewind(day(28), day(32), origin="test")
    assert project.model_store().current().tables["users"] != users_version
    assert {row[0]: row[1] for row in _users(project)}["u2"] == dt.datetime.combine(day(29), dt.time(7))
    users_version = project.model_store().current().tables["users"]
    project.rewind(day(28), day(32), origin="test")  # nothing changed since: the same version
    assert project.model_store().current().tables["users"] == users_version
