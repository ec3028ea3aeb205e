"""Deterministic synthetic mobile-game dataset generator.

Produces a DuckDB warehouse with five event tables in schema ``game``:

* ``game.registrations``      -- one row per user (registration event)
* ``game.sessions``           -- logins (activity event); the registration moment is a session too
* ``game.purchases``          -- in-app purchases (payment transaction event, amount in ``amount_usd``)
* ``game.ad_views``           -- ad impressions with small revenue
* ``game.level_completions``  -- level progress, ``level`` increasing per user

Everything is generated with vectorised numpy code from ``numpy.random.default_rng``
streams derived from ``DemoSpec.seed``, so the same spec always produces identical
table contents.  Timestamps are naive UTC ``TIMESTAMP`` values (millisecond resolution)
and ``event_date = CAST(event_ts AS DATE)``.

Behavioural model (roughly calibrated):

* registrations spread over the whole period, more on weekends, mild growth;
* a per-user engagement factor (Gamma distributed, mean 1) drives daily activity,
  sessions per day, payer propensity; the mean daily activity probability decays with
  cohort age (power law with a mild exponential tail) giving D1 ~40 %, D7 ~17 %,
  D30 ~7 % retention, modulated by weekday seasonality;
* all non-session events happen inside a session, so they only occur on active days
  and never before the registration timestamp;
* ~3-4 % of users are payers; each payer buys at least once and usually repeatedly;
* ~1.5 % of events of every table "arrive late": ``loaded_at`` is 1-3 days after
  ``event_ts`` (the rest are loaded 5 s - 10 min after the event).
"""

from __future__ import annotations

import os
import pathlib
import uuid
from typing import Any, Protocol

import numpy as np
import polars as pl

from asemic_core.demo.game_behaviour import (
    ACT_WEEKDAY,
    AD_NETWORKS,
    AD_NETWORK_P,
    BUILD_RELEASE_EVERY_DAYS,
    COUNTRIES,
    COUNTRY_P,
    EPOCH,
    PLATFORMS,
    PLATFORM_P,
    PRICE_POINTS,
    REG_WEEKDAY,
    STREAMS,
    US_PER_DAY,
    US_PER_S,
    DemoSpec,
    build_version_names,
    floor_ms,
    group_starts,
    retention_curve,
    sample_loaded_at,
    time_of_day_us,
    ts_within_session,
    weekday_of_days,
)

import polars as pl


__all__ = [
    "DemoSpec",
    "SCHEMA",
    "TABLES",
    "PRICE_POINTS",
    "generate_warehouse",
]

SCHEMA = "game"

#: Column name -> DuckDB type for every generated table (in column order).
TABLES: dict[str, dict[str, str]] = {
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

class Reporter(Protocol):  # pragma: no cover - typing only
    def start(self, total: int, label: str) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...

# --------------------------------------------------------------------------- generation


def _generate_tables(spec: DemoSpec) -> dict[str, pl.DataFrame]:
    child_seeds = np.random.SeedSequence(spec.seed).spawn(len(STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(STREAMS, child_seeds)}

    n_users, n_days = spec.users, spec.days
    start_day = (spec.start_date - EPOCH).days  # days since epoch
    start_us = np.int64(start_day) * US_PER_DAY

    # ---------------------------------------------------------------- users
    rng = rngs["users"]
    d = np.arange(n_days)
    reg_w = REG_WEEKDAY[weekday_of_days(spec, d)] * (1.0 + 0.35 * d / max(n_days - 1, 1))
    reg_w = reg_w * rng.gamma(40.0, 1.0 / 40.0, size=n_days)  # day-to-day noise
    per_day = rng.multinomial(n_users, reg_w / reg_w.sum())
    reg_day = np.repeat(d, per_day).astype(np.int64)
    reg_tod = time_of_day_us(rng, n_users)
    order = np.lexsort((reg_tod, reg_day))  # users numbered in registration order
    reg_tod = reg_tod[order]
    reg_ts = start_us + reg_day * US_PER_DAY + reg_tod

    platform_idx = rng.choice(len(PLATFORMS), size=n_users, p=PLATFORM_P)
    country_idx = rng.choice(len(COUNTRIES), size=n_users, p=COUNTRY_P)
    engagement = rng.gamma(1.6, 1.0 / 1.6, size=n_users)
    upgrade_lag = rng.geometric(0.3, size=n_users) - 1  # days until a user picks up a new build

    # Build schedule: a build is current at the start and a new one ships every week.
    n_builds = n_days // BUILD_RELEASE_EVERY_DAYS + 1
    build_names = build_version_names(n_builds)

    def build_at(day: np.ndarray) -> np.ndarray:
        return np.clip(day // BUILD_RELEASE_EVERY_DAYS, 0, n_builds - 1)

    reg_build = build_at(reg_day)

    width = max(6, len(str(n_users)))
    user_ids = pl.Series("user_id", np.arange(1, n_users + 1)).cast(pl.String).str.zfill(width)
    user_ids = ("u" + user_ids).alias("user_id")

    payer_p = np.clip(0.034 * engagement**0.8, 0.0, 0.5)
    is_payer = rng.random(n_users) < payer_p

    # ---------------------------------------------------------------- active days
    # Users are sorted by registration day, so users still "inside" the window at age a
    # form a prefix of the user array.
    rng = rngs["activity"]
    act_user = [np.arange(n_users, dtype=np.int64)]
    act_day = [reg_day]
    cutoffs = np.searchsorted(reg_day, np.arange(n_days), side="right")  # users with reg_day <= x
    for age in range(1, n_days):
        n_elig = int(cutoffs[n_days - 1 - age])
        if n_elig == 0:
            continue
        u = np.arange(n_elig, dtype=np.int64)
        day = reg_day[:n_elig] + age
        p = engagement[:n_elig] * retention_curve(age) * ACT_WEEKDAY[weekday_of_days(spec, day)]
        hit = rng.random(n_elig) < p
        act_user.append(u[hit])
        act_day.append(day[hit])
    a_user = np.concatenate(act_user)
    a_day = np.concatenate(act_day)
    a_is_reg = np.zeros(len(a_user), dtype=bool)
    a_is_reg[:n_users] = True

    # ---------------------------------------------------------------- sessions
    rng = rngs["sessions"]
    lam = np.clip(0.55 * engagement, 0.0, 3.0)[a_user]
    n_sess = 1 + rng.poisson(lam)
    n_sess = np.minimum(n_sess, 10)
    s_act = np.repeat(np.arange(len(a_user)), n_sess)
    # first session of each active day: index of first repeat
    first_of_day = np.zeros(len(s_act), dtype=bool)
    first_of_day[np.cumsum(n_sess) - n_sess] = True
    s_user = a_user[s_act]
    s_day = a_day[s_act]
    s_is_reg_day = a_is_reg[s_act]
    day_start = start_us + s_day * US_PER_DAY
    day_end = day_start + US_PER_DAY

    s_ts = day_start + time_of_day_us(rng, len(s_act))
    # Registration day: the first session *is* the registration; the others come after it.
    r_ts = reg_ts[s_user]
    after_reg = r_ts + floor_ms((rng.random(len(s_act)) * (day_end - 1 - r_ts)).astype(np.int64))
    s_ts = np.where(s_is_reg_day, np.where(first_of_day, r_ts, after_reg), s_ts)
    s_is_reg_session = s_is_reg_day & first_of_day

    s_len = np.exp(rng.normal(np.log(240.0), 0.85, size=len(s_act)))
    s_len = np.round(np.clip(s_len, 5.0, 4 * 3600.0), 1)
    s_len_us = (s_len * US_PER_S).astype(np.int64)

    s_build = np.maximum(reg_build[s_user], build_at(s_day - upgrade_lag[s_user]))

    # Sort sessions by (user, ts) so later per-user logic can rely on it.
    s_order = np.lexsort((s_ts, s_user))
    s_user, s_day, s_ts = s_user[s_order], s_day[s_order], s_ts[s_order]
    s_len, s_len_us, s_build = s_len[s_order], s_len_us[s_order], s_build[s_order]
    s_is_reg_session = s_is_reg_session[s_order]
    s_day_end = start_us + (s_day + 1) * US_PER_DAY
    n_sessions = len(s_ts)

    # ---------------------------------------------------------------- purchases
    rng = rngs["purchases"]
    buy_rate = np.clip(0.13 * rng.gamma(1.5, 1.0 / 1.5, size=n_users), 0.0, 0.8)
    s_payer = is_payer[s_user]
    buy = s_payer & (rng.random(n_sessions) < buy_rate[s_user])
    # Every payer buys at least once: force a purchase in one random session of theirs.
    starts = np.searchsorted(s_user, np.arange(n_users), side="left")
    ends = np.searchsorted(s_user, np.arange(n_users), side="right")
    payers = np.flatnonzero(is_payer)
    counts = ends[payers] - starts[payers]
    # bias the first purchase towards early sessions (square of uniform)
    forced = starts[payers] + (rng.random(len(payers)) ** 2 * counts).astype(np.int64)
    buy[forced] = True
    p_sess = np.flatnonzero(buy)
    p_user = s_user[p_sess]
    p_ts = ts_within_session(rng, s_ts[p_sess], s_len_us[p_sess], s_day_end[p_sess])
    price_p = np.array([w for _, _, w in PRICE_POINTS])
    price_idx = rng.choice(len(PRICE_POINTS), size=len(p_sess), p=price_p / price_p.sum())
    prices = np.array([p for p, _, _ in PRICE_POINTS])
    products = np.array([name for _, name, _ in PRICE_POINTS])

    # ---------------------------------------------------------------- ads
    rng = rngs["ads"]
    ad_lam = np.where(s_payer, 0.35, 1.9) * np.clip(s_len / 240.0, 0.25, 3.0)
    n_ads = rng.poisson(ad_lam)
    ad_sess = np.repeat(np.arange(n_sessions), n_ads)
    ad_ts = ts_within_session(rng, s_ts[ad_sess], s_len_us[ad_sess], s_day_end[ad_sess])
    ad_net = rng.choice(len(AD_NETWORKS), size=len(ad_sess), p=AD_NETWORK_P)
    ad_rev = np.exp(rng.normal(np.log(0.008), 0.7, size=len(ad_sess)))
    ad_rev = np.round(np.clip(ad_rev, 0.001, 0.05), 6)

    # ---------------------------------------------------------------- levels
    rng = rngs["levels"]
    lvl_lam = np.where(s_is_reg_session, 3.0, 1.1) * np.clip(s_len / 240.0, 0.3, 2.5)
    n_lvl = rng.poisson(lvl_lam)
    lvl_sess = np.repeat(np.arange(n_sessions), n_lvl)
    lvl_ts = ts_within_session(rng, s_ts[lvl_sess], s_len_us[lvl_sess], s_day_end[lvl_sess])
    lvl_user = s_user[lvl_sess]
    lvl_order = np.lexsort((lvl_ts, lvl_user))
    lvl_sess, lvl_ts, lvl_user = lvl_sess[lvl_order], lvl_ts[lvl_order], lvl_user[lvl_order]
    level = (np.arange(len(lvl_user)) - group_starts(lvl_user) + 1).astype(np.int32)
    lvl_dur = 45.0 * (1.0 + 0.04 * level) * np.exp(rng.normal(0.0, 0.5, size=len(level)))
    lvl_dur = np.round(lvl_dur, 1)

    # ---------------------------------------------------------------- loaded_at
    rng = rngs["loads"]
    reg_loaded = sample_loaded_at(rng, reg_ts)
    s_loaded = sample_loaded_at(rng, s_ts)
    p_loaded = sample_loaded_at(rng, p_ts)
    ad_loaded = sample_loaded_at(rng, ad_ts)
    lvl_loaded = sample_loaded_at(rng, lvl_ts)

    # ---------------------------------------------------------------- frames
    platforms = pl.Series(PLATFORMS.tolist(), dtype=pl.String)
    countries = pl.Series(COUNTRIES.tolist(), dtype=pl.String)
    builds = pl.Series(build_names.tolist(), dtype=pl.String)

    def ts_col(name: str, us: np.ndarray) -> pl.Series:
        return pl.Series(name, us.astype(np.int64)).cast(pl.Datetime("us"))

    def date_col(us: np.ndarray) -> pl.Series:
        days = (us // US_PER_DAY).astype(np.int32)
        return pl.Series("event_date", days).cast(pl.Date)

    def take(values: pl.Series, idx: np.ndarray, name: str) -> pl.Series:
        return values.gather(idx).alias(name)

    def finish(df: pl.DataFrame) -> pl.DataFrame:
        # Deterministic physical order: by time, then user.
        return df.sort(["event_ts", "user_id"], maintain_order=True)

    frames: dict[str, pl.DataFrame] = {}
    frames["registrations"] = finish(
        pl.DataFrame(
            [
                user_ids,
                ts_col("event_ts", reg_ts),
                date_col(reg_ts),
                take(platforms, platform_idx, "platform"),
                take(countries, country_idx, "country"),
                take(builds, reg_build, "build_version"),
                ts_col("loaded_at", reg_loaded),
            ]
        )
    )
    frames["sessions"] = finish(
        pl.DataFrame(
            [
                take(user_ids, s_user, "user_id"),
                ts_col("event_ts", s_ts),
                date_col(s_ts),
                take(platforms, platform_idx[s_user], "platform"),
                take(countries, country_idx[s_user], "country"),
                take(builds, s_build, "build_version"),
                pl.Series("session_length_s", s_len, dtype=pl.Float64),
                ts_col("loaded_at", s_loaded),
            ]
        )
    )
    purchases = finish(
        pl.DataFrame(
            [
                take(user_ids, p_user, "user_id"),
                ts_col("event_ts", p_ts),
                date_col(p_ts),
                pl.Series("amount_usd", prices[price_idx], dtype=pl.Float64),
                pl.Series("product_id", products[price_idx].tolist(), dtype=pl.String),
                ts_col("loaded_at", p_loaded),
            ]
        )
    )
    tx_width = max(8, len(str(len(purchases))))
    tx = pl.Series("transaction_id", np.arange(1, len(purchases) + 1)).cast(pl.String)
    tx = ("tx" + tx.str.zfill(tx_width)).alias("transaction_id")
    frames["purchases"] = purchases.with_columns(tx).select(list(TABLES["purchases"]))
    frames["ad_views"] = finish(
        pl.DataFrame(
            [
                take(user_ids, s_user[ad_sess], "user_id"),
                ts_col("event_ts", ad_ts),
                date_col(ad_ts),
                take(pl.Series(AD_NETWORKS.tolist(), dtype=pl.String), ad_net, "ad_network"),
                pl.Series("revenue_usd", ad_rev, dtype=pl.Float64),
                ts_col("loaded_at", ad_loaded),
            ]
        )
    )
    frames["level_completions"] = finish(
        pl.DataFrame(
            [
                take(user_ids, lvl_user, "user_id"),
                ts_col("event_ts", lvl_ts),
                date_col(lvl_ts),
                pl.Series("level", level, dtype=pl.Int32),
                pl.Series("duration_s", lvl_dur, dtype=pl.Float64),
                ts_col("loaded_at", lvl_loaded),
            ]
        )
    )
    return frames


# --------------------------------------------------------------------------- writing


def _write_duckdb(target: pathlib.Path, frames: dict[str, pl.DataFrame], reporter: Any) -> dict[str, int]:
    import duckdb

    counts: dict[str, int] = {}
    con = duckdb.connect(str(target))
    try:
        con.execute("SET memory_limit='4GB'").fetchall()
        con.execute("SET preserve_insertion_order=true").fetchall()
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}").fetchall()
        for name, columns in TABLES.items():
            df = frames[name]
            if reporter is not None:
                reporter.start(total=len(df), label=f"Writing {SCHEMA}.{name}")
            cols_ddl = ", ".join(f'"{c}" {t}' for c, t in columns.items())
            con.execute(f"CREATE TABLE {SCHEMA}.{name} ({cols_ddl})").fetchall()
            select = ", ".join(f'CAST("{c}" AS {t})' for c, t in columns.items())
            view = f"__asemic_demo_{name}"
            con.register(view, df)
            try:
                con.execute(f"INSERT INTO {SCHEMA}.{name} SELECT {select} FROM {view}").fetchall()
            finally:
                con.unregister(view)
            counts[f"{SCHEMA}.{name}"] = len(df)
            if reporter is not None:
                reporter.advance(len(df))
                reporter.finish()
        con.execute("CHECKPOINT").fetchall()
    finally:
        con.close()
    return counts


def _remove_quietly(p: pathlib.Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


def generate_warehouse(
    path: pathlib.Path, spec: DemoSpec = DemoSpec(), reporter: Any = None
) -> dict[str, int]:
    """Write a DuckDB file at `path` (replacing it atomically: write to a temp file in the same dir, then os.replace) and return row counts per table.

    Returned keys are qualified table names, e.g. ``"game.sessions"``.
    ``reporter`` (optional) gets ``start(total=rows, label=...)``, ``advance(rows)`` and
    ``finish()`` once per table written.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = _generate_tables(spec)

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    tmp_wal = tmp.with_name(tmp.name + ".wal")
    try:
        counts = _write_duckdb(tmp, frames, reporter)
        _remove_quietly(tmp_wal)  # fully checkpointed; nothing to replay
        # A stale WAL next to the old file would be replayed into the new database.
        _remove_quietly(path.with_name(path.name + ".wal"))
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        _remove_quietly(tmp_wal)
        raise
    return counts
