"""Every `asemic-cli` command on a small demo project, checked against values computed
independently: SQL written here over the warehouse (not the engine's SQL), or numbers
worked out from the files.

Demo: 200 users over 14 days (seed 5). Registration = the user's row in
game.registrations; activity = game.sessions; no table has a `where`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path

import duckdb
import pytest

from asemic_core.cli import EXIT_OK, EXIT_USER, main

USERS, DAYS, SEED = 200, 14, 5
TABLES = ["registrations", "sessions", "purchases", "ad_views", "level_completions"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def sql(root: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("commands") / "demo"
    code = main(["demo", "init", str(root), "--users", str(USERS), "--days", str(DAYS), "--seed", str(SEED)])
    assert code == EXIT_OK
    return root


@pytest.fixture(scope="module")
def model(demo, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("commands-model") / "demo"
    shutil.copytree(demo, root)
    assert main(["--project", str(root), "model", "refresh"]) == EXIT_OK
    return root


@pytest.fixture(scope="module")
def facts(demo) -> dict:
    """What the model must hold, from the warehouse alone."""
    (first, last), = sql(demo, "SELECT (SELECT min(event_date) FROM game.registrations), "
                               "(SELECT max(event_date) FROM game.sessions)")
    (users, rows), = sql(demo, f"""
        SELECT count(*), sum(date_diff('day', reg, DATE '{last}') + 1)
        FROM (SELECT user_id, min(event_date) AS reg FROM game.registrations GROUP BY 1) WHERE reg <= DATE '{last}'""")
    return {"first": first, "last": last, "users": users, "rows": int(rows), "days": (last - first).days + 1}


def test_demo_init_writes_the_warehouse_it_reports(capsys, tmp_path):
    root = tmp_path / "game"
    code, out, _ = cli(capsys, "demo", "init", str(root), "--users", "150", "--days", "10", "--seed", "9")
    assert code == EXIT_OK
    counts = {t: sql(root, f"SELECT count(*) FROM game.{t}")[0][0] for t in TABLES}
    assert out.splitlines()[0] == (f"Demo project written to {root}: 150 users over 10 days, "
                                   f"{sum(counts.values()):,} event rows.")
    assert sql(root, "SELECT count(DISTINCT user_id), count(*) FROM game.registrations")[0] == (150, 150)
    (days,), = sql(root, "SELECT count(DISTINCT event_date) FROM game.sessions")
    assert days == 10
    assert sorted(p.name for p in (root / "userentity/events").iterdir()) == [
        "ad_view.yml", "level_completion.yml", "purchase.yml", "registration.yml", "session.yml"]
    # the same seed gives the same data; init refuses to overwrite without --force
    code, _, err = cli(capsys, "demo", "init", str(root), "--users", "150", "--days", "10", "--seed", "9")
    assert code == EXIT_USER and "already" in err
    again = tmp_path / "again"
    cli(capsys, "demo", "init", str(again), "--users", "150", "--days", "10", "--seed", "9")
    for table in TABLES:
        query = f"SELECT * FROM game.{table} ORDER BY ALL"
        assert sql(root, query) == sql(again, query), table


def test_config_validate_of_the_demo(capsys, demo):
    code, out, _ = cli(capsys, "--project", str(demo), "config", "validate", "--format", "json")
    report = json.loads(out)
    assert (code, report["ok"], report["errors"], report["warnings"], report["dry_run"]) == (
        EXIT_OK, True, 0, 0, "passed")


def test_config_export_then_import_round_trips(capsys, demo, tmp_path):
    archive = tmp_path / "config.zip"
    code, out, _ = cli(capsys, "--project", str(demo), "config", "export", "--out", str(archive))
    config = {k: v for k, v in tree(demo).items() if k == "asemic.yml" or k.startswith("userentity/")}
    assert (code, out.strip()) == (EXIT_OK, f"Exported {len(config)} file(s) to {archive}")
    with zipfile.ZipFile(archive) as zf:
        assert {name: zf.read(name) for name in zf.namelist()} == config
    # another project's config is replaced by the archive's, byte for byte
    target = tmp_path / "target"
    shutil.copytree(demo, target)
    (target / "userentity/kpis/revenue.yml").unlink()
    (target / "userentity/properties/extra.yml").write_text("properties: {}\n")
    code, out, err = cli(capsys, "--project", str(target), "config", "import", str(archive))
    assert code == EXIT_OK, out + err
    assert {k: v for k, v in tree(target).items() if k == "asemic.yml" or k.startswith("userentity/")} == config
    assert tree(target)["warehouse.duckdb"] == tree(demo)["warehouse.duckdb"]


def test_config_import_of_an_invalid_archive_changes_nothing(capsys, demo, tmp_path):
    target = tmp_path / "target"
    shutil.copytree(demo, target)
    archive = tmp_path / "broken.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for rel, data in tree(demo).items():
            if rel == "asemic.yml" or rel.startswith("userentity/"):
                zf.writestr(rel, data.replace(b"source_event: purchase", b"source_event: purchasez"))
    before = tree(target)
    code, out, err = cli(capsys, "--project", str(target), "config", "import", str(archive))
    assert code == EXIT_USER
    assert "source_event 'purchasez' is not an event table" in out + err
    assert tree(target) == before


def test_model_refresh_and_status(capsys, model, facts):
    code, out, _ = cli(capsys, "--project", str(model), "model", "status", "--format", "json")
    status = json.loads(out)
    assert code == EXIT_OK
    assert (status["first_day"], status["watermark"], status["partitions"], status["rows"]) == (
        facts["first"].isoformat(), facts["last"].isoformat(), facts["days"], facts["rows"])
    assert status["stale_columns"] == [] and status["running_job"] is None
    code, out, _ = cli(capsys, "--project", str(model), "model", "status")
    assert 0 < status["stored_rows"] < facts["rows"]  # the sparse layout stores the change days only
    assert out.splitlines()[0] == (f"Materialized {facts['first']} .. {facts['last']}: {facts['days']} day partition(s), "
                                   f"{facts['rows']:,} rows ({status['stored_rows']:,} stored)")
    code, out, _ = cli(capsys, "--project", str(model), "jobs", "list", "--format", "json")
    (job,) = json.loads(out)
    assert (job["kind"], job["status"], job["message"]) == (
        "refresh", "succeeded", f"{facts['rows']:,} rows over {facts['days']} days")


def test_refresh_output(capsys, demo, facts, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(demo, root)
    code, out, _ = cli(capsys, "--project", str(root), "model", "refresh")
    assert code == EXIT_OK
    first = out.splitlines()[0]
    assert first.startswith("Job refresh-")
    assert f"succeeded: {facts['rows']:,} rows over {facts['days']} days ({facts['first']} .. {facts['last']})" in first


def test_property_values_match_the_warehouse(capsys, model, facts):
    code, out, _ = cli(capsys, "--project", str(model), "property", "values", "revenue_on_day", "--format", "json")
    assert code == EXIT_OK
    got = {(r["entity_id"], r["date"]): r["value"] for r in json.loads(out)}
    assert len(got) == facts["rows"]
    paid = {(u, d.isoformat()): v for u, d, v in sql(model, "SELECT user_id, event_date, sum(amount_usd) "
                                                         "FROM game.purchases GROUP BY 1, 2")}
    assert {k: v for k, v in got.items() if v != 0} == pytest.approx(paid, rel=1e-9)
    # one day, as CSV: every registered user, in entity order
    day = facts["first"] + dt.timedelta(days=3)
    code, out, _ = cli(capsys, "--project", str(model), "property", "values", "cohort_day", "--from", str(day),
                       "--to", str(day))
    expected = sql(model, f"SELECT user_id, date_diff('day', min(event_date), DATE '{day}') FROM game.registrations "
                          f"GROUP BY 1 HAVING min(event_date) <= DATE '{day}' ORDER BY 1")
    assert out == "entity_id,date,value\n" + "".join(f"{u},{day},{v}\n" for u, v in expected)


def test_kpi_query_matches_the_warehouse(capsys, model, facts):
    first, last = facts["first"], facts["last"]
    code, out, _ = cli(capsys, "--project", str(model), "kpi", "query", "dau", "--from", str(first), "--to", str(last))
    assert code == EXIT_OK
    dau = sql(model, "SELECT event_date, count(DISTINCT user_id) FROM game.sessions GROUP BY 1 ORDER BY 1")
    assert out == "date,value\n" + "".join(f"{d},{n}\n" for d, n in dau)  # whole numbers print as such
    # revenue per day of the users active that day (SEMANTICS 6: an event property's population)
    code, out, _ = cli(capsys, "--project", str(model), "kpi", "query", "revenue", "--from", str(first), "--to",
                       str(last), "--format", "json")
    got = {p["date"]: p["value"] for p in json.loads(out)["points"]}
    revenue = dict(sql(model, """
        SELECT p.event_date::VARCHAR, sum(p.amount_usd) FROM game.purchases p
        WHERE EXISTS (SELECT 1 FROM game.sessions s WHERE s.user_id = p.user_id AND s.event_date = p.event_date)
        GROUP BY 1"""))
    assert {d: v for d, v in got.items() if v} == pytest.approx(revenue, rel=1e-9)
    # by platform, weekly: dau's date axis totals with avg, so a week is the mean of its days'
    # values (Monday to Sunday, inside the range; a day without active users is NULL, not 0)
    code, out, _ = cli(capsys, "--project", str(model), "kpi", "query", "dau", "--from", str(first), "--to", str(last),
                       "--grain", "week", "--by", "platform", "--format", "json")
    points = {(p["date"], p["platform"]): p["value"] for p in json.loads(out)["points"]}
    weekly = sql(model, """
        SELECT date_trunc('week', day)::DATE::VARCHAR, platform, avg(n) FROM (
            SELECT s.event_date AS day, r.platform, count(DISTINCT s.user_id) AS n
            FROM game.sessions s JOIN game.registrations r USING (user_id) GROUP BY 1, 2) GROUP BY 1, 2""")
    assert points == pytest.approx({(w, p): n for w, p, n in weekly}, rel=1e-12)


def test_update_and_rewind_keep_the_values(capsys, model, tmp_path):
    root = tmp_path / "p"
    shutil.copytree(model, root)

    def revenue_values() -> str:
        return cli(capsys, "--project", str(root), "property", "values", "lifetime_revenue")[1]

    before = revenue_values()
    code, out, _ = cli(capsys, "--project", str(root), "model", "rewind", "--from", "2026-01-03", "--to", "2026-01-04")
    assert code == EXIT_OK
    # lifetime values carry forward: every later day is recomputed too
    assert out.splitlines()[0].endswith(f"over {DAYS - 2} days (2026-01-03 .. 2026-01-{DAYS:02d})")
    assert revenue_values() == before
    code, out, _ = cli(capsys, "--project", str(root), "model", "update")
    assert code == EXIT_OK  # lookback_days: 3 rewrites the last 3 days (no window looks ahead)
    assert out.splitlines()[0].endswith(f"over 3 days (2026-01-{DAYS - 2:02d} .. 2026-01-{DAYS:02d})")
    assert revenue_values() == before
    code, out, _ = cli(capsys, "--project", str(root), "jobs", "list", "--format", "json")
    assert [(j["kind"], j["status"]) for j in json.loads(out)] == [
        ("update", "succeeded"), ("rewind", "succeeded"), ("refresh", "succeeded")]
    job_id = json.loads(out)[1]["id"]
    code, out, _ = cli(capsys, "--project", str(root), "jobs", "show", job_id, "--format", "json")
    shown = json.loads(out)
    assert shown["args"] == {"from": "2026-01-03", "to": "2026-01-04"}
    assert [d["day"] for d in shown["days"]] == [f"2026-01-{d:02d}" for d in range(3, DAYS + 1)]


def test_scheduler_once_runs_an_update_when_none_ran(capsys, demo, tmp_path, facts):
    root = tmp_path / "p"
    shutil.copytree(demo, root)
    code, out, _ = cli(capsys, "--project", str(root), "scheduler", "--once")
    assert code == EXIT_OK
    assert out.splitlines()[-1].startswith(f"ran (refresh-")  # no model yet: the first run is a refresh
    assert f": {facts['rows']:,} rows over {facts['days']} day(s); next run " in out.splitlines()[-1]
    code, out, _ = cli(capsys, "--project", str(root), "scheduler", "--once")
    assert out.splitlines()[-1].startswith("not due: the model is fresh; next run ")
