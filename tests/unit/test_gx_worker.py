"""Great Expectations' worker process (pipelines/quality/gx_worker.py): real GE, real processes."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from pipelines.quality.gx_worker import SuiteRun, SuitesWorker, WorkerFailed
from pipelines.quality.resources import QualitySuites

pytestmark = pytest.mark.slow  # real dbt or Great Expectations processes: make test, not make check


def _codes_run(values: list[str]) -> SuiteRun:
    return SuiteRun("codes", pd.DataFrame({"status": values}),
                    [("ExpectColumnDistinctValuesToBeInSet", {"column": "status", "value_set": ["課税", "非課税"]})])


def _gone(pid: int, within: float) -> bool:
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_the_worker_judges_frames_builds_the_data_docs_and_survives_a_bad_request(tmp_path):
    worker = SuitesWorker(tmp_path / "gx", tmp_path / "gx" / "worker.log")
    try:
        good = worker.validate([_codes_run(["課税", "非課税"])])
        (result,) = good.results["codes"]
        assert result["success"] is True and result["column"] == "status"
        assert result["type"] == "expect_column_distinct_values_to_be_in_set"
        assert good.docs.name == "index.html" and good.docs.exists()
        bad = worker.validate([_codes_run(["課税", "不明"])])
        assert bad.results["codes"][0]["success"] is False
        assert bad.results["codes"][0]["unexpected"] == ["不明"]
        with pytest.raises(WorkerFailed, match="ExpectNoSuchThing") as failed:
            worker.validate([SuiteRun("x", pd.DataFrame({"a": [1]}), [("ExpectNoSuchThing", {})])])
        log = Path(str(failed.value).rsplit("full log ", 1)[1])
        assert log == tmp_path / "gx" / "worker.log" and "ExpectNoSuchThing" in log.read_text()
        assert worker.validate([_codes_run(["課税"])]).results["codes"][0]["success"]  # still serving
        worker.send([_codes_run(["課税", "不明"])])  # a caller that failed before it read the answer
        assert worker.validate([_codes_run(["課税"])]).results["codes"][0]["success"]  # not that answer
    finally:
        worker.close()
    assert not worker.alive
    assert "ExpectNoSuchThing" in log.read_text()  # the log an error named outlives the worker


def test_a_dead_worker_is_named_in_the_error_and_the_run_starts_another(tmp_path):
    suites = QualitySuites(home=str(tmp_path))
    first = suites.start()
    assert suites.start() is first  # one worker for the whole run
    first.process.kill()
    first.process.wait()
    with pytest.raises(WorkerFailed, match=rf"pid {first.process.pid}, exit -9") as failed:
        first.validate([_codes_run(["課税"])])
    second = suites.start()
    try:
        assert second is not first and second.alive
        assert second.validate([_codes_run(["課税"])]).results["codes"][0]["success"]
    finally:
        suites.teardown_after_execution(None)
    assert not second.alive


# the two suites of the report's own verdicts (link rates, list size), both passing
VERDICT_RUNS = [
    SuiteRun("link_rates", pd.DataFrame({"link_rate": [1.0]}),
             [("ExpectColumnValuesToBeBetween", {"column": "link_rate", "min_value": 0.95, "max_value": 1.0})]),
    SuiteRun("flag_list_size", pd.DataFrame({"change": [0.1]}),
             [("ExpectColumnValuesToBeBetween", {"column": "change", "min_value": -0.5, "max_value": 0.5})])]


def _asked(worker: SuitesWorker, runs: list[SuiteRun]):
    """The report's pending verdicts (quality.Evaluation) on ``runs``, sent to ``worker``."""
    import polars as pl

    from pipelines.quality.expectations import Evaluation

    worker.send(runs)
    return Evaluation(pl.DataFrame(schema={"extract": pl.String}), pl.DataFrame({"measure": ["m"], "link_rate": [1.0]}),
                      10, 9.0, 0.1, worker, runs)


def test_a_worker_that_dies_before_it_answers_is_replaced_and_asked_again(tmp_path):
    """The report's verdicts (quality.Evaluation): a worker killed between the request and the answer is
    replaced and asked once more; a worker that answered with an error is not (it would answer the same)."""
    bad = [SuiteRun("x", pd.DataFrame({"a": [1]}), [("ExpectNoSuchThing", {})])]
    suites = QualitySuites(home=str(tmp_path))
    try:
        first = suites.start()
        pending = _asked(first, VERDICT_RUNS)
        first.process.kill()  # before it answered (it may still be importing GE)
        outcomes, docs = pending.judged(restart=suites.start)
        assert pending.worker is not first and pending.worker.alive
        assert f"pid {first.process.pid}, exit -9" in pending.asked_again
        assert [(o.check, o.passed) for o in outcomes] == [("ge_link_rates", True), ("ge_list_size", True)]
        assert docs.exists()

        second = pending.worker
        broken = _asked(second, bad)
        with pytest.raises(WorkerFailed, match="ExpectNoSuchThing"):
            broken.judged(restart=suites.start)
        assert broken.asked_again is None and broken.worker is second and second.alive
    finally:
        suites.teardown_after_execution(None)


def test_a_hung_worker_is_killed_after_the_timeout_and_a_new_one_asked(tmp_path):
    """A worker that neither answers nor dies (stopped here with SIGSTOP) would hold the night for ever:
    after the timeout it is killed, named, and a new worker answers the same request. The new one is
    started and warmed (GE imported) before the clock starts, so that a short timeout is the hung
    worker's alone and the test does not wait 20 s for it."""
    timeout = 6
    suites = QualitySuites(home=str(tmp_path))
    spare = SuitesWorker(tmp_path / "spare", tmp_path / "spare" / "worker.log")
    try:
        assert spare.validate([_codes_run(["課税"])]).results["codes"][0]["success"]
        hung = suites.start()
        os.kill(hung.process.pid, signal.SIGSTOP)
        pending = _asked(hung, VERDICT_RUNS)
        started, answer = time.time(), []
        judging = threading.Thread(
            target=lambda: answer.append(pending.judged(restart=lambda: spare, timeout=timeout)), daemon=True)
        judging.start()
        judging.join(120)  # without the timeout this would wait for ever: fail instead
        assert answer, "still waiting on the hung worker after 120 s"
        assert time.time() - started >= timeout  # the hung one was waited for, then no longer
        outcomes, _ = answer[0]
        assert f"pid {hung.process.pid}, exit -9) failed: no answer within {timeout} s (killed)" in pending.asked_again
        assert not hung.alive and pending.worker is spare and spare.alive
        assert [(o.check, o.passed) for o in outcomes] == [("ge_link_rates", True), ("ge_list_size", True)]
    finally:
        suites.teardown_after_execution(None)
        spare.close()


def test_a_killed_night_takes_its_worker_with_it(tmp_path):
    """The worker ends when its stdin closes: a night killed with SIGKILL leaves no GE process behind."""
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pipelines.quality.gx_worker import SuitesWorker
        worker = SuitesWorker({str(tmp_path / "gx")!r}, {str(tmp_path / "gx" / "worker.log")!r})
        print(worker.process.pid, flush=True)
        time.sleep(600)
    """)], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _gone(worker_pid, within=90), "the worker outlived the night that started it"
