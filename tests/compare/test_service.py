"""compare_jobs on a real database (SQLite and PostgreSQL): samples, errors, the figure.

make_job and auc_job are shared with test_api.py.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from scipy import stats

from seedlab.analysis.seedscience import prob_improvement
from seedlab.analysis.significance import compare_samples
from seedlab.compare import service as compare_service
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.errors import InvalidInput, NotFound
from seedlab.jobs import creation
from seedlab.jobs import repository as jobs_repository
from seedlab.jobs.schemas import JobCreate
from seedlab.pages import compare as compare_page

A = [0.91, 0.92, 0.93, 0.90, 0.92]
B = [0.93, 0.94, 0.95, 0.93, 0.94]


def make_job(
    database: Database,
    settings: Settings,
    finals: Sequence[dict[str, float] | None],
    *,
    seeds: str = "1:5x1",
    status: str = "succeeded",
    profile: str = "full",
) -> int:
    """A job whose runs (seed order, then repeat) get these final metrics; None stays queued."""
    with database.write() as session:
        job = creation.create_job(
            session=session,
            payload=JobCreate(experiment="seed_card_mlp", seeds=seeds, profile=profile),
            settings=settings,
        )
        runs = sorted(job.runs, key=lambda run: (run.seed, run.repeat))
        assert len(runs) == len(finals), "one entry per run"
        # The analysis reads only status and final metrics, not how the runs got there.
        for run, final in zip(runs, finals, strict=True):
            if final is not None:
                run.status = status
                run.final_metrics = final
        return job.id


def auc_job(database: Database, settings: Settings, aucs: Sequence[float]) -> int:
    """Seeds 1..5, one run each, with val_auc and a val_loss of 1 - val_auc."""
    return make_job(database, settings, [{"val_auc": v, "val_loss": round(1 - v, 6)} for v in aucs])


def test_compares_one_value_per_seed(database: Database, settings: Settings) -> None:
    job_a, job_b = auc_job(database, settings, A), auc_job(database, settings, B)
    with database.read() as session:
        result = compare_service.compare_jobs(
            session=session, job_a=job_a, job_b=job_b, metric="val_auc"
        )
    assert result.a.job_id == job_a and result.b.job_id == job_b
    assert result.a.seeds == [1, 2, 3, 4, 5] and result.a.values == A and result.b.values == B
    assert result.a.experiment == "seed_card_mlp" and result.a.seed_plan == "1:5x1"
    assert result.p_welch == stats.ttest_ind(A, B, equal_var=False).pvalue
    assert result.paired and result.p_paired_t == stats.ttest_rel(B, A).pvalue
    assert result.cohens_d == pytest.approx(2.2)
    assert result.significant and result.higher_is_better
    assert result.sentence.startswith("B beats A by 0.022 val_auc (95% CI ")
    assert result.sentence.endswith(", p = 0.0095, 5 seeds each).")
    # The service adds nothing to the pure analysis: same numbers, same sentence.
    expected = compare_samples(
        A, B, seeds_a=[1, 2, 3, 4, 5], seeds_b=[1, 2, 3, 4, 5], metric="val_auc"
    ).to_dict()
    added = {"prob_improvement", "conclusion", "seeds_to_decide"}
    assert result.model_dump(exclude={"a", "b", *added}) == expected
    # B beats A on every seed: P(B > A) is 1 and its CI cannot leave 1, so B is better.
    improvement = prob_improvement(A, B, resamples=result.bootstrap)
    assert result.prob_improvement is not None
    assert result.prob_improvement.model_dump() == {"value": 1.0, "ci95": [1.0, 1.0], "gamma": 0.75}
    assert result.prob_improvement.model_dump() == improvement.to_dict()
    assert result.conclusion == "better" and result.seeds_to_decide is None


def test_losses_are_better_when_lower(database: Database, settings: Settings) -> None:
    job_a, job_b = auc_job(database, settings, A), auc_job(database, settings, B)
    with database.read() as session:
        loss = compare_service.compare_jobs(
            session=session, job_a=job_a, job_b=job_b, metric="val_loss"
        )
        forced = compare_service.compare_jobs(
            session=session, job_a=job_a, job_b=job_b, metric="val_loss", higher_is_better=True
        )
    assert not loss.higher_is_better and loss.diff is not None and loss.diff < 0
    assert loss.sentence.startswith("B beats A by 0.022 val_loss (lower is better; 95% CI 0.0")
    assert forced.sentence.startswith("A beats B by 0.022 val_loss (95% CI 0.0")
    # The direction decides who wins a pair: lower losses make B better, forcing higher flips it.
    assert loss.prob_improvement is not None and loss.prob_improvement.value == 1.0
    assert loss.conclusion == "better"
    assert forced.prob_improvement is not None and forced.prob_improvement.value == 0.0
    assert forced.conclusion == "not_better"


@pytest.mark.parametrize(
    ("name", "lower"),
    [
        ("val_loss", True),
        ("loss", True),
        ("mean_squared_error", True),
        ("val_mae", True),
        ("val_binary_crossentropy", True),
        ("val_auc", False),
        ("accuracy", False),
        ("val_precision", False),
        ("maelstrom", False),
    ],
)
def test_direction_from_the_name(name: str, lower: bool) -> None:
    assert compare_service.lower_is_better(name) is lower


def test_one_succeeded_run_per_seed(database: Database, settings: Settings) -> None:
    # Seeds 1..5 twice: runs are ordered (seed, repeat). Repeat 1 carries other values, and
    # seed 5's first repeat failed, so its second repeat stands in for it.
    finals: list[dict[str, float] | None] = []
    for value in A:
        finals += [{"val_auc": value}, {"val_auc": value + 0.5}]
    job = make_job(database, settings, finals, seeds="1:5x2")
    other = auc_job(database, settings, B)
    with database.write() as session:
        runs = jobs_repository.job_with_runs(session=session, job_id=job).runs
        next(r for r in runs if (r.seed, r.repeat) == (5, 0)).status = "failed"
    with database.read() as session:
        result = compare_service.compare_jobs(
            session=session, job_a=job, job_b=other, metric="val_auc"
        )
    assert result.a.seeds == [1, 2, 3, 4, 5]
    assert result.a.values == pytest.approx([*A[:4], A[4] + 0.5])
    assert len(set(result.a.run_ids)) == 5


def test_unknown_job_is_404(database: Database, settings: Settings) -> None:
    job = auc_job(database, settings, A)
    with database.read() as session:
        with pytest.raises(NotFound, match="job 999 does not exist"):
            compare_service.compare_jobs(session=session, job_a=job, job_b=999, metric="val_auc")
        with pytest.raises(NotFound, match="job 998 does not exist"):
            compare_service.compare_jobs(session=session, job_a=998, job_b=job, metric="val_auc")


def test_missing_metric_names_the_metrics_the_job_has(
    database: Database, settings: Settings
) -> None:
    job_a, job_b = auc_job(database, settings, A), auc_job(database, settings, B)
    with database.read() as session, pytest.raises(InvalidInput) as caught:
        compare_service.compare_jobs(session=session, job_a=job_a, job_b=job_b, metric="val_f1")
    assert caught.value.status_code == 422
    assert caught.value.message == (
        f"job {job_a} has no final metric 'val_f1'; it has: val_auc, val_loss"
    )


def test_fewer_than_two_seeds_is_422(database: Database, settings: Settings) -> None:
    full = auc_job(database, settings, A)
    one = make_job(database, settings, [{"val_auc": 0.9}, None, None, None, None])
    none = make_job(database, settings, [None] * 5)
    with database.read() as session:
        for job in (one, none):
            with pytest.raises(InvalidInput, match="at least 2 seeds per job") as caught:
                compare_service.compare_jobs(
                    session=session, job_a=full, job_b=job, metric="val_auc"
                )
            assert f"job {job} has" in caught.value.message


def test_failed_runs_do_not_count(database: Database, settings: Settings) -> None:
    full = auc_job(database, settings, A)
    failed = make_job(database, settings, [{"val_auc": v} for v in B], status="failed")
    with database.read() as session, pytest.raises(InvalidInput, match="0 succeeded seed"):
        compare_service.compare_jobs(session=session, job_a=full, job_b=failed, metric="val_auc")


# SQLite only: PostgreSQL's json type cannot store Infinity or NaN, so no such run exists there.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_non_finite_values_are_422(database: Database, settings: Settings) -> None:
    full = auc_job(database, settings, A)
    diverged = make_job(
        database, settings, [{"loss": v} for v in (0.3, float("inf"), 0.2, 0.4, 0.3)]
    )
    ok = make_job(database, settings, [{"loss": v} for v in (0.3, 0.2, 0.2, 0.4, 0.3)])
    with database.read() as session:
        with pytest.raises(InvalidInput, match=r"non-finite loss .* seed\(s\) 2;"):
            compare_service.compare_jobs(session=session, job_a=ok, job_b=diverged, metric="loss")
        with pytest.raises(InvalidInput, match="no final metric 'loss'; it has: val_auc"):
            compare_service.compare_jobs(session=session, job_a=full, job_b=ok, metric="loss")


def test_distribution_figure(database: Database, settings: Settings) -> None:
    job_a, job_b = auc_job(database, settings, A), auc_job(database, settings, B)
    with database.read() as session:
        result = compare_service.compare_jobs(
            session=session, job_a=job_a, job_b=job_b, metric="val_auc"
        )
    figure = compare_page.comparison_figure(result)
    box_a, box_b = figure["data"]
    assert box_a["type"] == box_b["type"] == "box"
    assert box_a["boxpoints"] == "all"  # every seed is a visible point
    assert box_a["name"] == f"A · job {job_a}" and box_b["name"] == f"B · job {job_b}"
    assert box_a["y"] == A and box_b["y"] == B
    assert box_a["text"][0] == f"seed 1 · run {result.a.run_ids[0]}"
    assert figure["layout"]["yaxis"]["title"]["text"] == "val_auc"


def test_no_paired_tests_when_a_job_seeded_nothing(database: Database, settings: Settings) -> None:
    seeded = auc_job(database, settings, A)
    unseeded = make_job(
        database,
        settings,
        [{"val_auc": v, "val_loss": round(1 - v, 6)} for v in B],
        profile="none",
    )
    with database.read() as session:
        result = compare_service.compare_jobs(
            session=session, job_a=seeded, job_b=unseeded, metric="val_auc"
        )
    # Same seed numbers, but the none profile applied none of them: nothing pairs the runs.
    assert not result.paired and result.p_paired_t is None and result.p_wilcoxon is None
    assert result.prob_improvement is None and result.conclusion is None
    assert result.p_welch == stats.ttest_ind(A, B, equal_var=False).pvalue
