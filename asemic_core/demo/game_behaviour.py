"""How the synthetic game behaves: the spec (users, days, seed, start date), the
distributions the generator draws from (platforms, countries, ad networks, retention,
weekday and hour-of-day shapes) and small sampling helpers over numpy arrays."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np


# --------------------------------------------------------------------------- constants

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S
_US_PER_MS = 1_000
EPOCH = datetime.date(1970, 1, 1)

PLATFORMS = np.array(["ios", "android", "web"])
PLATFORM_P = np.array([0.42, 0.50, 0.08])

COUNTRIES = np.array(["US", "BR", "IN", "DE", "GB", "JP", "FR", "CA"])
COUNTRY_P = np.array([0.34, 0.15, 0.13, 0.10, 0.09, 0.08, 0.06, 0.05])

#: (price in USD, product_id, relative frequency)
PRICE_POINTS: tuple[tuple[float, str, float], ...] = (
    (0.99, "gems_small", 0.38),
    (4.99, "gems_medium", 0.27),
    (9.99, "gems_large", 0.16),
    (19.99, "gems_huge", 0.10),
    (49.99, "gems_vault", 0.06),
    (99.99, "gems_mountain", 0.03),
)

AD_NETWORKS = np.array(["admob", "applovin", "unity_ads", "ironsource"])
AD_NETWORK_P = np.array([0.45, 0.30, 0.15, 0.10])

# Monday .. Sunday multipliers.
REG_WEEKDAY = np.array([0.90, 0.87, 0.89, 0.94, 1.05, 1.22, 1.16])
ACT_WEEKDAY = np.array([0.95, 0.93, 0.94, 0.97, 1.02, 1.10, 1.09])
ACT_WEEKDAY = ACT_WEEKDAY / ACT_WEEKDAY.mean()

# Hour-of-day (UTC) weights: evening peak, early-morning trough.
_HOURS = np.arange(24)
_HOUR_P = 1.0 + 0.75 * np.cos(2 * np.pi * (_HOURS - 20) / 24)
_HOUR_P = _HOUR_P / _HOUR_P.sum()

_LATE_SHARE = 0.015
BUILD_RELEASE_EVERY_DAYS = 7

STREAMS = ("users", "activity", "sessions", "purchases", "ads", "levels", "loads")


@dataclass(frozen=True)
class DemoSpec:
    users: int = 3000  # users who register over the period
    days: int = 90  # days of data
    seed: int = 42
    start_date: datetime.date = datetime.date(2026, 1, 1)

    def __post_init__(self) -> None:
        if self.users < 1:
            raise ValueError("DemoSpec.users must be >= 1")
        if self.days < 1:
            raise ValueError("DemoSpec.days must be >= 1")

# --------------------------------------------------------------------------- helpers


def retention_curve(age: np.ndarray | int) -> np.ndarray:
    """Mean probability that a (mean-engagement) user is active `age` days after registering."""
    a = np.asarray(age, dtype=np.float64)
    return 0.44 * a**-0.42 * np.exp(-a / 70.0)


def weekday_of_days(spec: DemoSpec, days: np.ndarray) -> np.ndarray:
    return (spec.start_date.weekday() + days) % 7


def time_of_day_us(rng: np.random.Generator, n: int) -> np.ndarray:
    """Microsecond offsets within a day following the diurnal profile, in [0, 1 day)."""
    hours = rng.choice(24, size=n, p=_HOUR_P)
    within_ms = rng.integers(0, 3600 * 1000, size=n)
    return hours.astype(np.int64) * 3600 * US_PER_S + within_ms * _US_PER_MS


def build_version_names(n_builds: int) -> np.ndarray:
    # Weekly releases alternating minor and patch bumps: 1.2.0, 1.2.1, 1.3.0, 1.3.1, ...
    k = np.arange(n_builds)
    return np.array([f"1.{2 + i // 2}.{i % 2}" for i in k])


def group_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """For a sorted key array, the index of the first element of each element's group."""
    n = len(sorted_keys)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    is_start = np.ones(n, dtype=bool)
    is_start[1:] = sorted_keys[1:] != sorted_keys[:-1]
    start_idx = np.flatnonzero(is_start)
    return start_idx[np.cumsum(is_start) - 1]


def floor_ms(us: np.ndarray) -> np.ndarray:
    return us - us % _US_PER_MS


def sample_loaded_at(rng: np.random.Generator, ts: np.ndarray) -> np.ndarray:
    n = len(ts)
    late = rng.random(n) < _LATE_SHARE
    on_time_delay = rng.integers(5_000, 600_000, size=n)  # ms
    late_delay = rng.integers(86_400_000, 3 * 86_400_000, size=n)  # ms
    return ts + np.where(late, late_delay, on_time_delay) * _US_PER_MS


def ts_within_session(
    rng: np.random.Generator,
    session_ts: np.ndarray,
    session_len_us: np.ndarray,
    day_end_us: np.ndarray,
) -> np.ndarray:
    """Random instants inside the session, kept strictly inside the session's day."""
    span = np.minimum(session_len_us, day_end_us - 1 - session_ts)
    span = np.maximum(span, 0)
    return session_ts + floor_ms((rng.random(len(session_ts)) * span).astype(np.int64))
