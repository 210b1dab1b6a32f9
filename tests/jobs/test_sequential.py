"""Sequential seed plans on a real database: rounds decided by the server as runs finish."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from seedlab.analysis.seedscience import seeds_for_halfwidth
from seedlab.analysis.spread import bounded_ci95
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.errors import InvalidInput
from seedlab.jobs import lifecycle
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs import service as jobs_service
from seedlab.jobs.models import Job
from seedlab.runs.models import Run
from tests.factory import claim, create_job, finish, register_agent

UNTIL = "val_auc.ci95_halfwidth<=0.01"
# Seeds 42.. alternate around 0.9 by 0.05: a wide spread (half-width ~0.06 over 5 seeds).
WIDE: Callable[[int], float] = lambda seed: 0.9 + (0.05 if seed % 2 else -0.05)  # noqa: E731


def halfwidth(values: list[float]) -> float:
    """Half the width of val_auc's 95% CI: bounded in [0, 1], so Hall's t (spread.py)."""
    low, high = bounded_ci95(np.asarray([values], dtype=np.float64))
    return float(high[0] - low[0]) / 2


def run_round(
    database: Database, settings: Settings, agent: int, value: Callable[[int], float]
) -> list[int]:
    """Claim every queued run, then finish each with val_auc = value(seed); the seeds run."""
    claimed = []
    while (assignment := claim(database, settings, agent)) is not None:
        claimed.append(assignment)
    for assignment in claimed:
        finish(database, assignment.run_id, assignment.attempt,
               final_metrics={"val_auc": value(assignment.seed), "val_loss": 0.3})
    return [a.seed for a in claimed]


def job_state(database: Database, job_id: int) -> tuple[str, dict, list[tuple[int, str]]]:  # type: ignore[type-arg]
    with database.read() as session:
        job = jobs_repository.job_with_runs(session=session, job_id=job_id)
        assert job is not None and job.sequential is not None
        runs = [(r.seed, r.status) for r in job.runs]
        return job.status, dict(job.sequential), runs


def test_target_met_in_the_first_round_stops_there(database: Database, settings: Settings) -> None:
    job_id, runs = create_job(database, settings, "42:auto", until=UNTIL, max_seeds=20)
    assert len(runs) == 5
    agent = register_agent(database)
    values = {42: 0.900, 43: 0.901, 44: 0.899, 45: 0.900, 46: 0.902}
    assert sorted(run_round(database, settings, agent, values.__getitem__)) == list(values)
    status, state, runs_now = job_state(database, job_id)
    assert status == "succeeded" and len(runs_now) == 5
    assert state["met"] is True and state["reason"] == "target met"
    expected = halfwidth(list(values.values()))
    assert state["rounds"] == [{"seeds": 5, "halfwidth": pytest.approx(expected)}]


def test_a_wide_round_queues_the_next_one_sized_by_the_spread(
    database: Database, settings: Settings
) -> None:
    job_id, _ = create_job(database, settings, "42:auto", until=UNTIL, max_seeds=40)
    agent = register_agent(database)
    run_round(database, settings, agent, WIDE)
    status, state, runs = job_state(database, job_id)
    first = [WIDE(s) for s in range(42, 47)]
    std = float(stats.tstd(first))
    expected = min(40, seeds_for_halfwidth(std, 0.01) or 40)
    # Between rounds the job is running, never finished: the next round is already queued.
    assert status == "running"
    assert state["met"] is None and state["reason"] is None
    assert state["rounds"] == [
        {"seeds": 5, "halfwidth": pytest.approx(halfwidth(first))},
        {"seeds": expected, "halfwidth": None},
    ]
    assert [s for s, st in runs if st == "queued"] == list(range(47, 42 + expected))
    with database.read() as session:
        read = jobs_service.read_job(session=session, job_id=job_id)
    assert read.run_count == expected and read.seeds == list(range(42, 42 + expected))
    assert read.seed_plan == "42:auto" and read.sequential is not None
    # The next round measures a tight spread around the same mean: the target is met.
    run_round(database, settings, agent, lambda seed: 0.9 + (0.0001 if seed % 2 else -0.0001))
    status, state, _ = job_state(database, job_id)
    assert status == "succeeded" and state["met"] is True and state["reason"] == "target met"
    assert len(state["rounds"]) == 2 and state["rounds"][1]["seeds"] == expected
    assert state["rounds"][1]["halfwidth"] <= 0.01


def test_the_cap_stops_the_job_and_says_so(database: Database, settings: Settings) -> None:
    job_id, _ = create_job(database, settings, "42:auto", until=UNTIL, max_seeds=7)
    agent = register_agent(database)
    assert len(run_round(database, settings, agent, WIDE)) == 5
    assert len(run_round(database, settings, agent, WIDE)) == 2  # capped at 7, not the ~150 wanted
    assert run_round(database, settings, agent, WIDE) == []
    status, state, runs = job_state(database, job_id)
    assert status == "succeeded" and len(runs) == 7
    assert state["met"] is False and state["reason"] == "max seeds reached"
    assert [r["seeds"] for r in state["rounds"]] == [5, 7]
    assert all(r["halfwidth"] > 0.01 for r in state["rounds"])


def test_a_failed_run_ends_the_job_without_another_round(
    database: Database, settings: Settings
) -> None:
    job_id, _ = create_job(database, settings, "42:auto", until=UNTIL)
    agent = register_agent(database)
    claimed = []
    while (assignment := claim(database, settings, agent)) is not None:
        claimed.append(assignment)
    for assignment in claimed[:-1]:
        finish(database, assignment.run_id, assignment.attempt,
               final_metrics={"val_auc": WIDE(assignment.seed)})
    finish(database, claimed[-1].run_id, claimed[-1].attempt, status="failed")
    status, state, runs = job_state(database, job_id)
    assert status == "failed" and len(runs) == 5
    assert state["met"] is False and state["reason"] == "runs failed"


def test_cancelling_between_rounds_ends_it(database: Database, settings: Settings) -> None:
    job_id, _ = create_job(database, settings, "42:auto", until=UNTIL)
    agent = register_agent(database)
    run_round(database, settings, agent, WIDE)
    with database.write() as session:
        lifecycle.cancel_job(session=session, job_id=job_id)
    status, state, runs = job_state(database, job_id)
    assert status == "cancelled" and state["reason"] == "cancelled" and state["met"] is False
    assert {st for s, st in runs if s >= 47} == {"cancelled"}


def test_a_metric_no_run_reports_stops_with_that_reason(
    database: Database, settings: Settings
) -> None:
    job_id, _ = create_job(database, settings, "42:auto", until="val_f1.ci95_halfwidth<=0.1")
    agent = register_agent(database)
    run_round(database, settings, agent, WIDE)
    status, state, _ = job_state(database, job_id)
    assert status == "succeeded" and state["reason"] == "metric not reported"
    # Now that the experiment's runs are known to report val_auc/val_loss, val_f1 is refused.
    refused = r"'val_f1', which seed_card_mlp does not report; its runs report: val_auc, val_loss"
    with pytest.raises(InvalidInput, match=refused):
        create_job(database, settings, "42:auto", until="val_f1.ci95_halfwidth<=0.1")


def test_deciding_again_changes_nothing(database: Database, settings: Settings) -> None:
    """The round state is re-derived from the runs: a repeated decision (another finisher, a
    restarted server re-checking) neither adds a round nor changes a finished job."""
    job_id, _ = create_job(database, settings, "42:auto", until=UNTIL, max_seeds=9)
    agent = register_agent(database)
    run_round(database, settings, agent, WIDE)
    before = job_state(database, job_id)
    fresh = Database(settings.resolved_database_url())  # as a restarted server would
    try:
        for _ in range(2):
            with fresh.write() as session:
                lifecycle.refresh_status(
                    session=session, job=jobs_repository.get_job(session=session, job_id=job_id)
                )
        assert job_state(fresh, job_id) == before
        run_round(database, settings, agent, WIDE)
        done = job_state(database, job_id)
        with fresh.write() as session:
            lifecycle.refresh_status(
                session=session, job=jobs_repository.get_job(session=session, job_id=job_id)
            )
        assert job_state(fresh, job_id) == done
        assert done[0] == "succeeded" and len(done[2]) == 9
    finally:
        fresh.dispose()


def test_fixed_plan_options_are_refused_where_they_mean_nothing(
    database: Database, settings: Settings
) -> None:
    with pytest.raises(InvalidInput, match="need a sequential seed plan 'BASE:auto'"):
        create_job(database, settings, "42:5", until=UNTIL)
    with pytest.raises(InvalidInput, match="need a sequential seed plan 'BASE:auto'"):
        create_job(database, settings, "42:5", max_seeds=9)
    with pytest.raises(InvalidInput, match="needs a stopping rule"):
        create_job(database, settings, "42:auto")
    with pytest.raises(InvalidInput, match="standard job"):
        create_job(database, settings, "42:auto", kind="audit", until=UNTIL)


@pytest.mark.postgres
def test_two_last_runs_finishing_at_once_add_one_round(postgres_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Both finishers update their run, then both decide: the job row lock makes the second
    wait for the first's commit and see both runs ended; exactly one round is added."""
    from seedlab.experiments import service as experiments_service
    from seedlab.migrate import upgrade_to_head
    from seedlab.queue import service as queue_service
    from seedlab.queue.schemas import RunFinished

    settings = Settings(data_dir=tmp_path, database_url=postgres_url, lease_seconds=30)
    database = Database(postgres_url)
    upgrade_to_head(database.engine)
    with database.write() as session:
        experiments_service.sync_catalog(session=session)
    try:
        job_id, _ = create_job(database, settings, "42:auto", until=UNTIL, max_seeds=30)
        agent = register_agent(database)
        claimed = []
        while (assignment := claim(database, settings, agent)) is not None:
            claimed.append(assignment)
        for assignment in claimed[:3]:
            finish(database, assignment.run_id, assignment.attempt,
                   final_metrics={"val_auc": WIDE(assignment.seed)})
        both_updated = threading.Barrier(2, timeout=20)
        original = jobs_repository.lock_job

        def lock_after_both(*, session, job_id):  # type: ignore[no-untyped-def]
            both_updated.wait()  # both runs are updated (uncommitted) before either decides
            return original(session=session, job_id=job_id)

        errors: list[BaseException] = []

        def finisher(index: int) -> None:
            a = claimed[index]
            try:
                with database.write() as session:
                    queue_service.finish_run(
                        session=session,
                        run_id=a.run_id,
                        payload=RunFinished(attempt=a.attempt, status="succeeded",
                                            final_metrics={"val_auc": WIDE(a.seed)}),
                    )
            except BaseException as exc:  # reported below
                errors.append(exc)

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(jobs_repository, "lock_job", lock_after_both)
            threads = [threading.Thread(target=finisher, args=(i,)) for i in (3, 4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        assert not errors, errors
        status, state, runs = job_state(database, job_id)
        assert status == "running"
        assert len(state["rounds"]) == 2 and state["rounds"][0]["halfwidth"] is not None
        total = state["rounds"][1]["seeds"]
        assert len(runs) == total and len({s for s, _ in runs}) == total
        with database.read() as session:
            assert session.get(Job, job_id).run_count == total  # type: ignore[union-attr]
            assert session.query(Run).filter(Run.job_id == job_id).count() == total
    finally:
        database.dispose()


def test_a_round_left_open_is_decided_when_the_server_starts(
    database: Database, settings: Settings
) -> None:
    """Every run of the first round ended but nothing was decided (as if they had ended on a
    server without this code): starting the server decides it from the runs."""
    from fastapi.testclient import TestClient

    from seedlab.app import create_app

    job_id, _ = create_job(database, settings, "42:auto", until=UNTIL, max_seeds=9)
    agent = register_agent(database)
    run_round(database, settings, agent, WIDE)
    decided = job_state(database, job_id)
    with database.write() as session:
        job = jobs_repository.job_with_runs(session=session, job_id=job_id)
        assert job is not None
        for run in list(job.runs):
            if run.status == "queued":
                job.runs.remove(run)
        job.run_count = 5
        job.seed_plan = {"seeds": [42, 43, 44, 45, 46], "repeats": 1}
        job.sequential = {**job.sequential, "rounds": [{"seeds": 5, "halfwidth": None}]}  # type: ignore[dict-item]
    assert job_state(database, job_id)[0] == "running" and len(job_state(database, job_id)[2]) == 5
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))):
        pass
    assert job_state(database, job_id) == decided
    with TestClient(create_app(settings, Database(settings.resolved_database_url()))):
        pass
    assert job_state(database, job_id) == decided  # a second start changes nothing
