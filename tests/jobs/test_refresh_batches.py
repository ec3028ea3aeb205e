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
    assert_frame_equal(table_frame(many, DAILY), expected, check_exact=True)
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
