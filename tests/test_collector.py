"""keep_for_life freezes the objects alive (after a collection), except in a thread running a job."""

from __future__ import annotations

import gc
import threading

from asemic_core.collector import job_objects, keep_for_life, release


def test_a_job_thread_freezes_nothing_and_other_threads_still_do() -> None:
    release()
    try:
        keep = [[object()] for _ in range(100)]  # noqa: F841 - alive while the test runs
        with job_objects():
            keep_for_life()
            assert gc.get_freeze_count() == 0
            seen = {}
            other = threading.Thread(target=lambda: (keep_for_life(), seen.update(count=gc.get_freeze_count())))
            other.start()
            other.join()
            assert seen["count"] > 0  # a reader beside the job
            release()
            with job_objects():  # nested
                keep_for_life()
            keep_for_life()
            assert gc.get_freeze_count() == 0
        keep_for_life()
        assert gc.get_freeze_count() > 0
    finally:
        release()



def test_full_collections_wait_while_a_job_runs() -> None:
    before = gc.get_threshold()
    entered, leave, seen = threading.Event(), threading.Event(), {}

    def other_job() -> None:
        with job_objects():
            entered.set()
            leave.wait(10)

    with job_objects():
        assert gc.get_threshold()[:2] == before[:2]  # the younger generations as before
        assert gc.get_threshold()[2] >= 1_000  # a full collection after 1,000 of the middle generation
        thread = threading.Thread(target=other_job)
        thread.start()
        entered.wait(10)
    seen["while_other_runs"] = gc.get_threshold()  # the other job still runs
    leave.set()
    thread.join()
    assert seen["while_other_runs"][2] >= 1_000
    assert gc.get_threshold() == before
