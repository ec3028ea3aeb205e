"""A refresh that computes its users in several batches (the event inputs staged once for
all of them) stores exactly what a refresh in one batch stores."""

from __future__ import annotations

import shutil

from jobs_support import make_demo, table_frame
from polars.testing import assert_frame_equal

from asemic_core.jobs import refresh as refresh_job
from asemic_core.jobs import writing
from asemic_core.project import Project
from asemic_core.storage.store import DAILY, USERS


def test_a_refresh_in_batches_stores_what_one_batch_stores(tmp_path, monkeypatch) -> None:
    one = make_demo(tmp_path / "one", users=400, days=45)
    many = tmp_path / "many"
    shutil.copytree(one, many)
    Project(one).refresh(origin="test")

    staged = []
    stage_inputs = refresh_job.stage_inputs

    def spy(executor, query):
        staged.append(stage_inputs(executor, query))
        return staged[-1]

    monkeypatch.setattr(refresh_job, "stage_inputs", spy)
    monkeypatch.setattr(writing, "ROWS_PER_BUCKET", 1_000)
    Project(many).refresh(origin="test")

    assert len(staged) == 1 and {"users", "activity", "event_days"} <= set(staged[0])
    expected = table_frame(one, DAILY)
    assert expected.height > 3 * writing.ROWS_PER_BUCKET  # several batches
    # every row and every value the same; sums of doubles to the last bits only (a running
    # SUM's order of additions is the engine's: one lifetime revenue of 3,138 rows differed
    # in its last bit once the window stage computed one more window)
    assert_frame_equal(table_frame(many, DAILY), expected, check_exact=False, rel_tol=1e-12, abs_tol=0)
    assert_frame_equal(table_frame(many, USERS), table_frame(one, USERS), check_exact=True)


def test_joins_as_written_applies_inside_its_block_only() -> None:
    from asemic_core.backend.duckdb_executor import DuckDBExecutor, connect

    executor = DuckDBExecutor(connect(None))
    setting = "SELECT current_setting('disabled_optimizers')"
    executor.execute("SET disabled_optimizers = 'late_materialization'")
    try:
        with executor.joins_as_written():
            inside = executor.rows(setting)[0][0]
            raise RuntimeError("a failed write")
    except RuntimeError:
        pass
    assert set(inside.split(",")) == {"late_materialization", "build_side_probe_side"}
    assert executor.rows(setting)[0][0] == "late_materialization"
    executor.close()


class _Recording:
    """A DuckDB executor that records when each statement starts."""

    def __init__(self, events: list) -> None:
        from asemic_core.backend.duckdb_executor import DuckDBExecutor, connect

        self.inner = DuckDBExecutor(connect(None))
        self.events = events

    def batches(self, sql: str):
        self.events.append(("computing", sql))
        return self.inner.batches(sql)


def test_batches_stream_in_order_computing_at_most_one_ahead() -> None:
    events: list = []
    executor = _Recording(events)
    statements = [f"SELECT range + {100 * i} AS x FROM range(3)" for i in range(4)]
    import time

    def written(index: int) -> None:
        time.sleep(0.2)  # a slow write: time enough for a thread running ahead to start later batches
        events.append(("written", index))

    reader = writing.stream(executor, statements, written)
    rows = reader.read_all().column("x").to_pylist()
    executor.inner.close()
    assert rows == [0, 1, 2, 100, 101, 102, 200, 201, 202, 300, 301, 302]
    order = [(kind, statements.index(what) if kind == "computing" else what) for kind, what in events]
    assert [e for e in order if e[0] == "written"] == [("written", i) for i in range(4)]
    for index in range(2, 4):  # a batch starts only once the one two before it is written
        assert order.index(("computing", index)) > order.index(("written", index - 2))


def test_a_failing_batch_fails_the_stream_after_the_batches_before_it() -> None:
    import duckdb
    import pytest

    events: list = []
    executor = _Recording(events)
    statements = ["SELECT 1 AS x", "SELECT CAST(error('the second batch failed') AS INTEGER) AS x", "SELECT 3 AS x"]
    reader = writing.stream(executor, statements, lambda index: events.append(("written", index)))
    with pytest.raises(duckdb.Error, match="the second batch failed"):
        reader.read_all()
    executor.inner.close()
    assert ("written", 0) in events and ("written", 1) not in events


class _Watched:
    """A DuckDB reader that records whether it was read whole or batch by batch."""

    def __init__(self, reader, events: list) -> None:
        self.reader, self.events, self.schema = reader, events, reader.schema

    def read_all(self):
        self.events.append("read whole")
        return self.reader.read_all()

    def __iter__(self):
        self.events.append("streamed")
        return iter(self.reader)


def test_one_statement_is_streamed_to_the_writer_unless_held() -> None:
    from asemic_core.backend.duckdb_executor import DuckDBExecutor, connect

    executor = DuckDBExecutor(connect(None))
    for hold, expected in ((False, ["streamed"]), (True, ["read whole"])):
        events: list = []
        original = executor.batches
        executor.batches = lambda sql: _Watched(original(sql), events)
        written: list = []
        reader = writing.stream(executor, ["SELECT range AS x FROM range(5)"], written.append, hold=hold)
        assert reader.read_all().column("x").to_pylist() == [0, 1, 2, 3, 4]
        assert events == expected and written == [0]
        del executor.batches
    executor.close()
