"""Tests for the synthetic mobile-game warehouse generator (asemic_core.demo.dataset)."""

from __future__ import annotations

import datetime
import pathlib

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from asemic_core.demo.dataset import TABLES, DemoSpec, generate_warehouse

SMALL = DemoSpec(users=300, days=30, seed=7)
# A bit larger for the statistical checks (still well under a second).
STATS = DemoSpec(users=2000, days=30, seed=11)

EXPECTED_TYPES = {
    "registrations": {
        "user_id": "VARCHAR",
        "event_ts": "TIMESTAMP",
        "event_date": "DATE",
        "platform": "VARCHAR",
        "country": "VARCHAR",
        "build_version": "VARCHAR",
        "loaded_at": "TIMESTAMP",
    },
    "sessions": {
        "user_id": "VARCHAR",
        "event_ts": "TIMESTAMP",
        "event_date": "DATE",
        "platform": "VARCHAR",
        "country": "VARCHAR",
        "build_version": "VARCHAR",
        "session_length_s": "DOUBLE",
        "loaded_at": "TIMESTAMP",
    },
    "purchases": {
        "user_id": "VARCHAR",
        "event_ts": "TIMESTAMP",
        "event_date": "DATE",
        "amount_usd": "DOUBLE",
        "product_id": "VARCHAR",
        "transaction_id": "VARCHAR",
        "loaded_at": "TIMESTAMP",
    },
    "ad_views": {
        "user_id": "VARCHAR",
        "event_ts": "TIMESTAMP",
        "event_date": "DATE",
        "ad_network": "VARCHAR",
        "revenue_usd": "DOUBLE",
        "loaded_at": "TIMESTAMP",
    },
    "level_completions": {
        "user_id": "VARCHAR",
        "event_ts": "TIMESTAMP",
        "event_date": "DATE",
        "level": "INTEGER",
        "duration_s": "DOUBLE",
        "loaded_at": "TIMESTAMP",
    },
}
EVENT_TABLES = ["sessions", "purchases", "ad_views", "level_completions"]
ALL_TABLES = list(EXPECTED_TYPES)


def _connect(path: pathlib.Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True)
    con.execute("SET memory_limit='1GB'").fetchall()
    return con


def _scalar(con: duckdb.DuckDBPyConnection, q: str):
    rows = con.execute(q).fetchall()
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> tuple[pathlib.Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("small") / "demo.duckdb"
    counts = generate_warehouse(path, SMALL)
    return path, counts


@pytest.fixture()
def con(small_db):
    c = _connect(small_db[0])
    yield c
    c.close()


@pytest.fixture(scope="module")
def stats_con(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "demo.duckdb"
    generate_warehouse(path, STATS)
    c = _connect(path)
    yield c
    c.close()


def _frames(path: pathlib.Path) -> dict[str, pl.DataFrame]:
    c = _connect(path)
    try:
        return {t: c.sql(f"SELECT * FROM game.{t} ORDER BY ALL").pl() for t in ALL_TABLES}
    finally:
        c.close()


# --------------------------------------------------------------------------- determinism


def test_same_spec_gives_identical_tables(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    counts_a = generate_warehouse(a, SMALL)
    counts_b = generate_warehouse(b, SMALL)
    assert counts_a == counts_b
    fa, fb = _frames(a), _frames(b)
    for t in ALL_TABLES:
        assert fa[t].height == counts_a[f"game.{t}"] and counts_a[f"game.{t}"] > 0, t
        assert_frame_equal(fa[t], fb[t])


def test_different_seeds_differ(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    generate_warehouse(a, SMALL)
    generate_warehouse(b, DemoSpec(users=SMALL.users, days=SMALL.days, seed=SMALL.seed + 1))
    fa, fb = _frames(a), _frames(b)
    # Same number of users either way, but the contents differ.
    assert fa["registrations"].height == fb["registrations"].height == SMALL.users
    for t in ALL_TABLES:
        assert not fa[t].equals(fb[t]), t


# --------------------------------------------------------------------------- file handling


def test_returns_row_counts(small_db, con):
    _, counts = small_db
    assert set(counts) == {f"game.{t}" for t in ALL_TABLES}
    for t in ALL_TABLES:
        assert counts[f"game.{t}"] == _scalar(con, f"SELECT count(*) FROM game.{t}")
    assert counts["game.registrations"] == SMALL.users


def test_replaces_existing_file_atomically(tmp_path):
    path = tmp_path / "demo.duckdb"
    path.write_bytes(b"not a database")
    generate_warehouse(path, DemoSpec(users=50, days=10, seed=1))
    # replaced with a valid database; no temp files left behind
    c = _connect(path)
    try:
        assert _scalar(c, "SELECT count(*) FROM game.registrations") == 50
    finally:
        c.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb"]
    # regenerating over an existing warehouse works too
    generate_warehouse(path, DemoSpec(users=60, days=10, seed=1))
    c = _connect(path)
    try:
        assert _scalar(c, "SELECT count(*) FROM game.registrations") == 60
    finally:
        c.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.duckdb"]


def test_reporter_called_per_table(tmp_path):
    calls: list[tuple] = []

    class Rec:
        def start(self, total: int, label: str) -> None:
            calls.append(("start", total, label))

        def advance(self, n: int = 1) -> None:
            calls.append(("advance", n))

        def finish(self) -> None:
            calls.append(("finish",))

    counts = generate_warehouse(tmp_path / "r.duckdb", DemoSpec(users=40, days=7), reporter=Rec())
    starts = [c for c in calls if c[0] == "start"]
    finishes = [c for c in calls if c[0] == "finish"]
    assert len(starts) == len(finishes) == len(ALL_TABLES)
    assert sum(c[1] for c in calls if c[0] == "advance") == sum(counts.values())
    assert calls[0][0] == "start" and calls[-1] == ("finish",)


# --------------------------------------------------------------------------- schema


def test_schema_and_types_exact(con):
    rows = con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'game' ORDER BY table_name, ordinal_position"
    ).fetchall()
    actual: dict[str, dict[str, str]] = {}
    for table, column, dtype in rows:
        actual.setdefault(table, {})[column] = dtype
    assert actual == EXPECTED_TYPES
    for t, cols in EXPECTED_TYPES.items():  # column order too
        assert list(actual[t]) == list(cols)
    assert TABLES == EXPECTED_TYPES


def test_no_nulls(con):
    for t, cols in EXPECTED_TYPES.items():
        checks = " + ".join(f'count(*) - count("{c}")' for c in cols)
        assert _scalar(con, f"SELECT {checks} FROM game.{t}") == 0, t


def test_categorical_domains(con):
    assert {r[0] for r in con.execute("SELECT DISTINCT platform FROM game.registrations").fetchall()} <= {
        "ios",
        "android",
        "web",
    }
    countries = [r[0] for r in con.execute("SELECT DISTINCT country FROM game.registrations").fetchall()]
    assert 4 <= len(countries) <= 8
    assert all(len(c) == 2 and c.isupper() for c in countries)
    builds = [r[0] for r in con.execute("SELECT DISTINCT build_version FROM game.sessions").fetchall()]
    assert all(len(b.split(".")) == 3 and all(p.isdigit() for p in b.split(".")) for b in builds)
    prices = {r[0] for r in con.execute("SELECT DISTINCT amount_usd FROM game.purchases").fetchall()}
    assert prices <= {0.99, 4.99, 9.99, 19.99, 49.99, 99.99}
    assert _scalar(con, "SELECT min(revenue_usd) >= 0.001 AND max(revenue_usd) <= 0.05 FROM game.ad_views")
    assert _scalar(con, "SELECT min(session_length_s) > 0 FROM game.sessions")
    assert _scalar(con, "SELECT min(duration_s) > 0 FROM game.level_completions")


# --------------------------------------------------------------------------- integrity


def test_one_registration_per_user_and_id_format(con):
    assert _scalar(con, "SELECT count(*) - count(DISTINCT user_id) FROM game.registrations") == 0
    assert _scalar(con, "SELECT count(*) FROM game.registrations") == SMALL.users
    assert _scalar(con, r"SELECT bool_and(regexp_full_match(user_id, 'u\d{6}')) FROM game.registrations")
    for t in EVENT_TABLES:
        orphans = _scalar(
            con,
            f"SELECT count(*) FROM game.{t} e ANTI JOIN game.registrations r USING (user_id)",
        )
        assert orphans == 0, t


def test_no_event_before_registration(con):
    for t in EVENT_TABLES:
        n = _scalar(
            con,
            f"SELECT count(*) FROM game.{t} e JOIN game.registrations r USING (user_id) "
            "WHERE e.event_ts < r.event_ts",
        )
        assert n == 0, t


def test_registration_moment_is_a_session(con):
    missing = _scalar(
        con,
        "SELECT count(*) FROM game.registrations r ANTI JOIN game.sessions s "
        "ON s.user_id = r.user_id AND s.event_ts = r.event_ts",
    )
    assert missing == 0


def test_dates_in_range_and_event_date_matches_ts(con):
    start = SMALL.start_date
    end = start + datetime.timedelta(days=SMALL.days)
    for t in ALL_TABLES:
        lo, hi, bad_date, late_loads = con.execute(
            f"""SELECT min(event_ts), max(event_ts),
                       count(*) FILTER (WHERE event_date IS DISTINCT FROM CAST(event_ts AS DATE)),
                       count(*) FILTER (WHERE loaded_at < event_ts)
                FROM game.{t}"""
        ).fetchall()[0]
        assert lo >= datetime.datetime.combine(start, datetime.time()), t
        assert hi < datetime.datetime.combine(end, datetime.time()), t
        assert bad_date == 0, t
        assert late_loads == 0, t


def test_registrations_spread_over_period(con):
    days_with_regs = _scalar(con, "SELECT count(DISTINCT event_date) FROM game.registrations")
    assert days_with_regs >= SMALL.days - 2


def test_levels_increase_per_user(con):
    bad = _scalar(
        con,
        """SELECT count(*) FROM (
               SELECT level, row_number() OVER (PARTITION BY user_id ORDER BY event_ts, level) AS rn
               FROM game.level_completions)
           WHERE level <> rn""",
    )
    assert bad == 0


def test_builds_never_downgrade(con):
    bad = _scalar(
        con,
        """SELECT count(*) FROM (
               SELECT string_split(build_version, '.') AS v,
                      lag(string_split(build_version, '.')) OVER (PARTITION BY user_id ORDER BY event_ts) AS pv
               FROM game.sessions)
           WHERE pv IS NOT NULL
             AND [CAST(x AS INTEGER) FOR x IN v] < [CAST(x AS INTEGER) FOR x IN pv]""",
    )
    assert bad == 0


def test_transaction_id_unique(con):
    assert _scalar(con, "SELECT count(*) - count(DISTINCT transaction_id) FROM game.purchases") == 0
    assert _scalar(con, "SELECT count(*) FROM game.purchases") > 0


def test_purchases_only_on_active_days(con):
    n = _scalar(
        con,
        "SELECT count(*) FROM game.purchases p ANTI JOIN game.sessions s "
        "ON s.user_id = p.user_id AND s.event_date = p.event_date",
    )
    assert n == 0


@pytest.mark.parametrize(
    "spec",
    [
        DemoSpec(users=1, days=1, seed=0),
        DemoSpec(users=5, days=2, seed=3),
        DemoSpec(users=20, days=400, seed=5, start_date=datetime.date(2024, 2, 28)),
    ],
)
def test_edge_specs(tmp_path, spec):
    path = tmp_path / "edge.duckdb"
    counts = generate_warehouse(path, spec)
    assert counts["game.registrations"] == spec.users
    c = _connect(path)
    try:
        end = spec.start_date + datetime.timedelta(days=spec.days)
        for t in ALL_TABLES:
            lo, hi = c.execute(f"SELECT min(event_date), max(event_date) FROM game.{t}").fetchall()[0]
            if lo is not None:
                assert spec.start_date <= lo and hi < end, t
    finally:
        c.close()


def test_invalid_spec():
    with pytest.raises(ValueError):
        DemoSpec(users=0)
    with pytest.raises(ValueError):
        DemoSpec(days=0)


# --------------------------------------------------------------------------- realism


def test_d1_retention_plausible(stats_con):
    # Independently computed: share of users (with a full next day inside the window)
    # who have a session on the day after their registration date.
    d1 = _scalar(
        stats_con,
        f"""
        WITH r AS (
            SELECT user_id, event_date AS reg_date FROM game.registrations
            WHERE event_date + 1 < DATE '{STATS.start_date}' + {STATS.days}
        )
        SELECT avg(CASE WHEN EXISTS (
                   SELECT 1 FROM game.sessions s
                   WHERE s.user_id = r.user_id AND s.event_date = r.reg_date + 1)
               THEN 1.0 ELSE 0.0 END)
        FROM r
        """,
    )
    assert 0.32 <= d1 <= 0.48, d1


def test_retention_decays(stats_con):
    rows = stats_con.execute(
        f"""
        WITH r AS (SELECT user_id, event_date AS reg_date FROM game.registrations),
        a AS (SELECT DISTINCT user_id, event_date FROM game.sessions),
        k AS (SELECT unnest([1, 7, 14]) AS k)
        SELECT k.k,
               (SELECT count(*) FROM r JOIN a ON a.user_id = r.user_id AND a.event_date = r.reg_date + k.k)
               / (SELECT count(*) FROM r WHERE r.reg_date + k.k < DATE '{STATS.start_date}' + {STATS.days})
        FROM k ORDER BY k.k
        """
    ).fetchall()
    d1, d7, d14 = (v for _, v in rows)
    assert d1 > d7 > d14 > 0
    assert 0.10 <= d7 <= 0.26, d7


def test_late_arrival_share_small_but_nonzero(stats_con):
    for t in ALL_TABLES:
        share = _scalar(
            stats_con,
            f"SELECT avg(CASE WHEN loaded_at - event_ts >= INTERVAL 1 DAY THEN 1.0 ELSE 0.0 END) FROM game.{t}",
        )
        if t in ("registrations", "sessions", "ad_views", "level_completions"):
            assert 0.003 <= share <= 0.04, (t, share)
        else:  # few purchase rows: only bound from above
            assert share <= 0.06, (t, share)
    too_late = _scalar(
        stats_con,
        "SELECT count(*) FROM game.sessions WHERE loaded_at - event_ts > INTERVAL 3 DAY",
    )
    assert too_late == 0


def test_payer_share(stats_con):
    share = _scalar(
        stats_con,
        "SELECT (SELECT count(DISTINCT user_id) FROM game.purchases) / (SELECT count(*) FROM game.registrations)",
    )
    assert 0.01 <= share <= 0.07, share
    purchases_per_payer = _scalar(
        stats_con, "SELECT count(*) / count(DISTINCT user_id) FROM game.purchases"
    )
    assert purchases_per_payer > 1.3  # payers buy repeatedly


def test_non_payers_see_more_ads(stats_con):
    payer_rate, non_payer_rate = stats_con.execute(
        """
        WITH payers AS (SELECT DISTINCT user_id FROM game.purchases),
        ads AS (SELECT user_id, count(*) AS n FROM game.ad_views GROUP BY ALL),
        sess AS (SELECT user_id, count(*) AS n FROM game.sessions GROUP BY ALL),
        x AS (
            SELECT s.user_id, s.n AS sessions, coalesce(a.n, 0) AS ads,
                   s.user_id IN (SELECT user_id FROM payers) AS is_payer
            FROM sess s LEFT JOIN ads a USING (user_id)
        )
        SELECT sum(ads) FILTER (WHERE is_payer) / sum(sessions) FILTER (WHERE is_payer),
               sum(ads) FILTER (WHERE NOT is_payer) / sum(sessions) FILTER (WHERE NOT is_payer)
        FROM x
        """
    ).fetchall()[0]
    assert non_payer_rate > 2 * payer_rate


def test_weekend_registrations_higher(stats_con):
    weekend, weekday = stats_con.execute(
        """
        WITH d AS (SELECT event_date, count(*) AS n FROM game.registrations GROUP BY ALL)
        SELECT avg(n) FILTER (WHERE isodow(event_date) >= 6), avg(n) FILTER (WHERE isodow(event_date) < 6)
        FROM d
        """
    ).fetchall()[0]
    assert weekend > weekday


def test_multiple_sessions_per_day_exist(stats_con):
    multi = _scalar(
        stats_con,
        "SELECT count(*) FROM (SELECT user_id, event_date FROM game.sessions GROUP BY ALL HAVING count(*) > 1)",
    )
    assert multi > 0
