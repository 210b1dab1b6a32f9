"""Server-rendered pages through the real app and services (no browser)."""

from __future__ import annotations

import re
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field
from sqlalchemy import delete

from seedlab.analysis.runwarnings import run_warnings
from seedlab.analysis.seedscience import expected_best_of_k, prediction_churn
from seedlab.pages.forms import form_fields
from seedlab.pages.static import plotly_url
from seedlab.pages.templating import fmt_num
from seedlab.runs.models import RunTrace
from tests.pages.support import METRICS, AgentDriver, checksum, table_rows


def _submit(client: TestClient, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "experiment": "credit_risk_mlp", "seeds": "42:2x2", "profile": "full",
        "params": {"epochs": 4}, "label": "page test",
    }
    payload.update(overrides)
    response = client.post("/api/v1/jobs", json=payload)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_jobs_list_empty_state(client: TestClient) -> None:
    html = client.get("/").text
    assert 'data-testid="empty"' in html and "No jobs yet" in html
    assert 'href="/jobs/new"' in html and 'href="/docs"' in html


def test_jobs_list_rows_counts_and_pagination(client: TestClient, driver: AgentDriver) -> None:
    first = _submit(client, seeds="42:1x2")
    driver.complete_next(epochs=2)
    for _ in range(29):
        _submit(client, seeds="1:1x1", label=None)
    page1 = client.get("/").text
    rows = table_rows(page1, "jobs-table")
    assert len(rows) == 25
    assert rows[0].attrs["data-job-id"] == "30"  # newest first
    assert 'href="/?offset=25"' in page1 and "1\N{EN DASH}25 of 30" in page1
    page2 = client.get("/?offset=25").text
    rows = table_rows(page2, "jobs-table")
    assert [r.attrs["data-job-id"] for r in rows] == ["5", "4", "3", "2", "1"]
    oldest = rows[-1]
    assert oldest.attrs["data-status"] == "running"
    label, experiment, plan, profile, status, counts = oldest.cells[1:7]
    assert (label, plan, profile, status) == ("page test", "42x2", "full", "running")
    # Versions come from the source hash (issue 9): built-ins are 1+<hash of their module>.
    assert experiment.startswith("credit_risk_mlp v1+")
    assert counts == "1 queued 1 succeeded"
    assert f'href="/jobs/{first["id"]}"' in page2 and 'href="/?offset=0"' in page2


def test_new_job_form_is_generated_from_each_schema(client: TestClient) -> None:
    html = client.get("/jobs/new").text
    for name in ("seed_card_mlp", "credit_risk_mlp", "digits_cnn"):
        assert f'data-experiment="{name}"' in html
    epochs = re.search(r'<input type="number" id="param-credit_risk_mlp-epochs"[^>]*>', html)
    assert epochs, html
    tag = epochs.group(0)
    for attr in ('data-kind="integer"', 'step="1"', 'min="1"', 'max="10000"', 'value="10"'):
        assert attr in tag
    dropout = re.search(r'<input type="number" id="param-credit_risk_mlp-dropout"[^>]*>', html)
    assert dropout and 'step="any"' in dropout.group(0) and 'value="0.2"' in dropout.group(0)
    assert '<select id="param-credit_risk_mlp-dataset" name="dataset" data-kind="select">' in html
    assert '<option value="breast_cancer" selected>' in html
    assert "rows of synthetic_credit" in html  # the field's description is its help text
    # Only the selected experiment's fieldset is enabled; the others are hidden and disabled.
    assert re.search(r'data-experiment="credit_risk_mlp">', html)
    assert re.search(r'data-experiment="seed_card_mlp" hidden disabled>', html)
    assert 'id="seeds" name="seeds" value="42:5x2"' in html and "COUNTxREPEATS" in html
    for preset in ("full", "seeds_only", "none"):
        assert f'<option value="{preset}"' in html
    for toggle in ("hash_seed", "op_determinism", "single_thread", "onednn_off"):
        assert f'id="toggle-{toggle}"' in html
    chosen = client.get("/jobs/new?experiment=digits_cnn").text
    assert re.search(r'data-experiment="digits_cnn">', chosen)


class _Kinds(BaseModel):
    flag: bool = True
    mode: Literal["a", "b"] = "b"
    count: int | None = Field(None, ge=0, description="optional count")
    rate: float = Field(0.5, gt=0.0, lt=1.0)
    name: str = "x"


def test_form_fields_map_schema_types_to_inputs() -> None:
    fields = {f.name: f for f in form_fields(_Kinds.model_json_schema(), {"name": "y"})}
    assert fields["flag"].kind == "checkbox" and fields["flag"].default is True
    assert fields["mode"].kind == "select" and fields["mode"].options == ["a", "b"]
    count = fields["count"]
    assert (count.kind, count.nullable, count.minimum, count.help) == (
        "integer", True, 0, "optional count",
    )
    assert fields["rate"].kind == "number" and fields["rate"].step == "any"
    assert (fields["rate"].minimum, fields["rate"].maximum) == (0.0, 1.0)
    assert fields["name"].kind == "text" and fields["name"].default == "y"


def test_fmt_num_six_significant_digits() -> None:
    assert fmt_num(0.123456789) == "0.123457"
    assert fmt_num(1234567.0) == "1.23457e+06"
    assert fmt_num(3) == "3"
    assert fmt_num(None) == "—"
    assert fmt_num(2.5e-9) == "2.5e-09"


def test_job_page_queued(client: TestClient) -> None:
    job = _submit(client)
    html = client.get(f"/jobs/{job['id']}").text
    assert f'<script defer src="{plotly_url()}"></script>' in html
    assert 'data-verdict="not_checked"' in html and 'id="spread-empty"' in html
    assert 'id="cancel-job"' in html and 'data-terminal="false"' in html
    runs = table_rows(html, "runs-table")
    assert [r.attrs["data-status"] for r in runs] == ["queued"] * 4
    # Repeats are counted from 0 on the pages, as in the API.
    assert [r.cells[1:3] for r in runs] == [["42", "0"], ["43", "0"], ["42", "1"], ["43", "1"]]
    assert "page test" in html and "credit_risk_mlp" in html
    params = {r.cells[0]: r.cells[1] for r in table_rows(html, "params-table")}
    assert params["epochs"] == "4" and params["dataset"] == "breast_cancer"
    assert '"figure"' not in html  # the chart data is fetched, never inlined


def test_job_page_with_finished_runs(client: TestClient, driver: AgentDriver) -> None:
    job = _submit(client, seeds="42:3x2")
    for _ in range(6):
        driver.complete_next(epochs=5)
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    html = client.get(f"/jobs/{job['id']}").text
    assert report["verdict"] == "bitwise" and 'data-verdict="bitwise"' in html
    assert report["verdict_evidence"]["summary"] in html
    assert 'id="cancel-job"' not in html and 'data-terminal="true"' in html
    evidence = table_rows(html, "evidence-table")
    assert [r.attrs["data-seed"] for r in evidence] == ["42", "43", "44"]
    seed42 = evidence[0].cells
    run_ids = report["verdict_evidence"]["seeds"][0]["run_ids"]
    assert seed42[1] == ", ".join(f"#{i}" for i in run_ids)
    assert seed42[2:4] == ["yes", "yes"] and seed42[5] == "none"
    spread = {r.attrs["data-metric"]: r.cells for r in table_rows(html, "spread-table")}
    assert set(spread) == set(METRICS)
    auc = report["metrics"]["val_auc"]
    assert spread["val_auc"][1:7] == [
        "3", fmt_num(auc["mean"]), fmt_num(auc["std"]), fmt_num(auc["min"]),
        fmt_num(auc["max"]), fmt_num(auc["range"]),
    ]
    assert spread["val_auc"][7] == f"[{fmt_num(auc['ci95'][0])}, {fmt_num(auc['ci95'][1])}]"
    runs = table_rows(html, "runs-table")
    assert {r.attrs["data-status"] for r in runs} == {"succeeded"}
    assert runs[0].cells[4] == "epoch 5 of 5"
    full = checksum(42, 5)
    assert f'<code title="{full}">{full[:12]}</code>' in html
    header = re.search(r"<thead>\s*<tr><th>Run</th>(.*?)</tr>", html, re.S)
    assert header and "val_auc" in header.group(1) and "val_loss" in header.group(1)
    # Seed lottery: E[best of k] over the three seeds' first repeats, best = lowest for losses.
    finals = [r["final_metrics"] for r in report["runs"] if r["repeat"] == 0]
    assert report["seed_lottery"]["val_auc"]["expected_best_of_k"] == pytest.approx(
        expected_best_of_k([f["val_auc"] for f in finals])
    )
    loss = report["seed_lottery"]["val_loss"]
    assert loss["higher_is_better"] is False
    assert loss["expected_best_of_k"][-1] < loss["expected_best_of_k"][0]
    assert report["warnings"] == []
    lottery = {r.attrs["data-metric"]: r.cells for r in table_rows(html, "lottery-table")}
    curve = report["seed_lottery"]["val_auc"]["expected_best_of_k"]
    assert lottery["val_auc"][1:4] == [
        fmt_num(curve[0]), fmt_num(curve[-1]), fmt_num(curve[-1] - curve[0])
    ]


def test_nondeterministic_verdict_names_the_divergent_epoch(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="7:1x2")
    driver.complete_next(epochs=5)
    driver.complete_next(epochs=5, salt="other kernel order")
    html = client.get(f"/jobs/{job['id']}").text
    assert 'data-verdict="nondeterministic"' in html
    row = table_rows(html, "evidence-table")[0].cells
    assert row[2:4] == ["no", "no"] and row[5] == "3"
    assert "val_auc" in row[4] and "1e-07" in row[4]
    # Untraced: the epoch and the first layer that differs, linked to the run-pair page.
    assert row[6] == "epoch 3: weights differ (dense_1)"
    assert 'href="/runs/1/diff/2#divergence"' in html
    assert 'id="divergence-link"' in html


def test_run_pair_page_shows_the_first_divergent_step_and_its_timeline(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="7:1x2")
    first = driver.complete_next(epochs=4, traced=True)
    second = driver.complete_next(epochs=4, traced=True, salt="other kernel order")
    pair = f"{first['run_id']}/diff/{second['run_id']}"
    html = client.get(f"/runs/{pair}").text
    assert 'data-cause="numeric"' in html and 'data-epoch="3"' in html and 'data-step="1"' in html
    assert "First differ at epoch 3, step 1 (step 5 overall)" in html
    assert '<td id="divergence-layers"><code>dense_1</code></td>' in html
    figure = re.search(r'id="divergence-figure">(.*?)</script>', html, re.S)
    assert figure and '"input batch"' in figure.group(1)
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert [(d["epoch"], d["step"], d["cause"]) for d in report["divergence"]] == [
        (3, 1, "numeric")
    ]


def test_report_locates_each_pair_once_traces_are_stored(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="7:1x2")
    driver.complete_next(epochs=4, traced=True)
    driver.complete_next(epochs=4, traced=True, salt="other kernel order")
    first = client.get(f"/api/v1/jobs/{job['id']}/report").json()["divergence"]
    assert [d["cause"] for d in first] == ["numeric"]
    # A stored trace never changes, so the live page's repeated reports do not parse it again.
    with client.app.state.database.write() as session:  # type: ignore[attr-defined]
        session.execute(delete(RunTrace))
    again = client.get(f"/api/v1/jobs/{job['id']}/report").json()["divergence"]
    assert again == first
    # The run-pair endpoint reads the traces themselves: gone now, and it says so.
    pair = f"{first[0]['run_a']}/divergence/{first[0]['run_b']}"
    assert client.get(f"/api/v1/runs/{pair}").status_code == 422


def test_audit_section_is_rebuilt_only_when_a_run_changes_status(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, kind="audit", seeds="42:1x1", audit={"toggles": ["python_seed"]})
    for salt in ("", "", "", "unseeded initialisers"):  # baseline pair, then the variant pair
        driver.complete_next(epochs=4, traced=True, salt=salt)
    audit = client.get(f"/api/v1/jobs/{job['id']}/report").json()["audit"]
    assert audit["culprits"] == ["python_seed"]
    assert audit["toggles"]["python_seed"]["first_divergence"]["cause"] == "numeric"
    with client.app.state.database.write() as session:  # type: ignore[attr-defined]
        session.execute(delete(RunTrace))
    # Nothing changed status: the section (and its step-level divergence) is reused.
    assert client.get(f"/api/v1/jobs/{job['id']}/report").json()["audit"] == audit


def test_divergence_of_runs_with_different_seeds_says_they_are_expected_to_differ(
    client: TestClient, driver: AgentDriver
) -> None:
    _submit(client, seeds="7:2x1")
    first = driver.complete_next(epochs=2, traced=True)
    second = driver.complete_next(epochs=2, traced=True)
    found = client.get(f"/api/v1/runs/{first['run_id']}/divergence/{second['run_id']}").json()
    assert found["cause"] == "initialisation"
    assert found["explanation"].startswith("These runs have different seeds (7 and 8)")


def test_run_pair_page_without_traces_still_shows_the_environment(
    client: TestClient, driver: AgentDriver
) -> None:
    _submit(client, seeds="7:1x2")
    first = driver.complete_next(epochs=3)
    second = driver.claim()  # claimed, never finished: no trace yet
    driver._post(
        f"/api/v1/agent/runs/{second['run_id']}/started",
        {"attempt": 1, "applied_profile": {}, "fingerprint_hash": "f" * 64,
         "fingerprint": {"hostname": "other"}, "isolation": "fork"},
    )
    response = client.get(f"/runs/{first['run_id']}/diff/{second['run_id']}")
    assert response.status_code == 200
    assert 'id="diff-table"' in response.text
    assert "has no trace (status running)" in response.text
    api = client.get(f"/api/v1/runs/{first['run_id']}/divergence/{second['run_id']}")
    assert api.status_code == 422 and "has no trace" in api.json()["detail"]


def test_live_fragments_match_the_page(client: TestClient, driver: AgentDriver) -> None:
    job = _submit(client, seeds="42:1x2")
    live = client.get(f"/jobs/{job['id']}/live")
    assert live.status_code == 200 and live.headers["cache-control"] == "no-store"
    body = live.json()
    assert body["status"] == "queued" and body["terminal"] is False
    assert set(body["html"]) == {
        "status", "verdict", "spread", "lottery", "sequential", "decomposition", "sweep", "runs"
    }
    page = client.get(f"/jobs/{job['id']}").text
    for fragment in body["html"].values():
        assert fragment.strip() in page
    # app.js swaps each key into its data-fragment container; the sequential plan and the
    # decomposition and the sweep have one on their kinds of job only.
    containers = re.findall(r'data-fragment="([^"]+)"', page)
    kind_only = {"sequential", "decomposition", "sweep"}
    assert sorted(containers) == sorted(set(body["html"]) - kind_only)
    before = body["chart_key"]
    driver.complete_next(epochs=3)
    body = client.get(f"/jobs/{job['id']}/live").json()
    assert body["status"] == "running" and body["chart_key"] != before
    assert 'data-status="succeeded"' in body["html"]["runs"]
    driver.complete_next(epochs=3)
    body = client.get(f"/jobs/{job['id']}/live").json()
    assert body["terminal"] is True and 'data-verdict="bitwise"' in body["html"]["verdict"]
    assert 'id="cancel-job"' not in body["html"]["status"]


def test_run_page_shows_profile_fingerprint_and_checksums(
    client: TestClient, driver: AgentDriver
) -> None:
    _submit(client, seeds="42:2x1")
    phases = {"setup": 0.25, "build": 0.125, "training": 0.5}
    run_id = driver.complete_next(epochs=4, phases=phases)["run_id"]
    html = client.get(f"/runs/{run_id}").text
    assert 'id="run-status" data-status="succeeded"' in html
    # Where the 1.25 s went: the run process's phases, the rest before and after them.
    timing = {r.cells[0]: r.cells[1] for r in table_rows(html, "run-timing")}
    assert timing["Run time"] == "1.25 s (process start to exit)"
    assert timing["… process start and exit"] == "0.375 s"
    assert timing["… profile applied, experiment imported"] == "0.25 s"
    assert timing["… data, model build and compile"] == "0.125 s"
    assert timing["… training (the epochs)"] == "0.5 s"
    assert client.get(f"/api/v1/runs/{run_id}").json()["phases"] == phases
    # A run that did not measure its phases (a script, or before 0018): the total alone.
    unmeasured = driver.complete_next(epochs=2)["run_id"]
    other = {r.cells[0] for r in table_rows(client.get(f"/runs/{unmeasured}").text, "run-timing")}
    assert "Run time" in other and not any(label.startswith("…") for label in other)
    assert f'<script defer src="{plotly_url()}"></script>' in html and 'id="run-curves"' in html
    profile = {r.cells[0]: r.cells[1] for r in table_rows(html, "applied-profile")}
    assert profile["op_determinism"] == "yes" and profile["seed"] == "42"
    assert profile["intra_op_threads"] == "1"
    # A catalog run: the run process applied the profile, in those words (not a script's hook).
    how = {r.cells[0]: r.cells[1] for r in table_rows(html, "applied-how")}
    assert how["python_seed"] == "random.seed(seed) by the run process before the experiment"
    assert "start-up hook" not in html and "unmodified script" not in html
    assert "The run process applied the profile before it ran the experiment" in html
    fp = {r.cells[0]: r.cells[1] for r in table_rows(html, "fingerprint")}
    assert fp["CPU model"] == "Test CPU 9000" and fp["ISA flags"] == "avx, avx2, fma"
    assert fp["TensorFlow"] == "2.18.0" and fp["scikit-learn"] == "1.5.2"
    assert fp["Environment variables"] == "PYTHONHASHSEED=0, OMP_NUM_THREADS=1"
    assert fp["Experiment source hash"] == "ab" * 32
    assert '<details id="distributions">' in html and "numpy==2.0.2" in html
    finals = {r.attrs["data-metric"]: r.cells[1] for r in table_rows(html, "final-metrics")}
    assert set(finals) == set(METRICS)
    attempts = table_rows(html, "attempts-table")
    assert len(attempts) == 1 and attempts[0].cells[4] == "succeeded"
    assert html.count("<li><code title=") == 4  # one checksum per epoch
    assert "fork" in html and "zygote for this pre-import environment" in html
    live = client.get(f"/runs/{run_id}/live").json()
    assert live["terminal"] is True and set(live["html"]) == {"summary", "detail"}
    for fragment in live["html"].values():
        assert fragment.strip() in html
    assert sorted(re.findall(r'data-fragment="([^"]+)"', html)) == ["detail", "summary"]


def test_failed_run_shows_error_and_traceback(client: TestClient, driver: AgentDriver) -> None:
    _submit(client, seeds="42:1x1")
    run_id = driver.complete_next(epochs=2, fail="ValueError: loss became NaN")["run_id"]
    html = client.get(f"/runs/{run_id}").text
    assert 'data-status="failed"' in html
    assert '<div class="error-box" id="run-error">ValueError: loss became NaN</div>' in html
    assert re.search(r'<pre class="traceback" id="traceback">Traceback', html)


def test_queued_run_page_says_what_is_missing(client: TestClient) -> None:
    _submit(client, seeds="42:1x1")
    html = client.get("/runs/1").text
    assert 'data-terminal="false"' in html and 'id="applied-profile-empty"' in html
    assert "Not claimed by an agent yet" in html


@pytest.mark.parametrize("url", ["/jobs/999", "/runs/999"])
def test_unknown_ids_get_an_html_404(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert 'data-testid="not-found"' in response.text and "999 does not exist" in response.text


def test_unknown_ids_live_is_a_json_404(client: TestClient) -> None:
    response = client.get("/jobs/999/live")
    assert response.status_code == 404 and "999" in response.json()["detail"]


def test_pages_link_assets_that_exist(client: TestClient) -> None:
    html = client.get("/").text
    for url in re.findall(r'(?:href|src)="(/static/[^"]+)"', html):
        assert client.get(url).status_code == 200, url
    assert client.get(plotly_url()).status_code == 200


def test_run_warnings_show_on_the_run_and_job_pages_and_in_the_report(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="42:3x1")
    found = run_warnings(first_batches=["a", "a"], where="model.fit input batches")
    first = driver.complete_next(epochs=3, warnings=found)
    second = driver.complete_next(epochs=3, warnings=[])
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    assert report["warnings"] == [
        {
            "code": "repeated_epoch_order",
            "where": f"model.fit input batches in 1 of 3 run(s) (#{first['run_id']})",
            "message": found[0]["message"],
        }
    ]
    runs = {run["id"]: run for run in report["runs"]}
    assert runs[first["run_id"]]["warnings"] == found and runs[second["run_id"]]["warnings"] == []
    html = client.get(f"/jobs/{job['id']}").text
    assert 'id="job-warnings"' in html and 'data-code="repeated_epoch_order"' in html
    run_html = client.get(f"/runs/{first['run_id']}").text
    assert 'id="run-warnings"' in run_html and "reshuffle_each_iteration=True" in run_html
    assert 'id="run-warnings"' not in client.get(f"/runs/{second['run_id']}").text


def test_prediction_churn_in_the_report_and_on_the_job_page(
    client: TestClient, driver: AgentDriver
) -> None:
    job = _submit(client, seeds="42:3x1")
    ids = ["a", "b", "c", "d"]
    # Seed order: example b flips once, c flips once; the third run also reports an extra id.
    scores = [[0.9, 0.2, 0.6, 0.1], [0.8, 0.7, 0.4, 0.2], [0.7, 0.3, 0.6, 0.3, 0.5]]
    for row in scores:
        extra = ["e"] if len(row) == 5 else []
        driver.complete_next(
            epochs=3,
            predictions={"ids": ids + extra, "scores": row, "labels": [1, 0, 1, 0, 1][: len(row)]},
        )
    report = client.get(f"/api/v1/jobs/{job['id']}/report").json()
    churn = report["churn"]
    expected = prediction_churn([row[:4] for row in scores], [1, 0, 1, 0])
    assert churn["flip_rate"] == 0.5 == expected.flip_rate
    assert churn["mean_abs_score_diff"] == pytest.approx(expected.mean_abs_score_diff)
    assert churn["noise_floor_std"] == pytest.approx(expected.noise_floor_std)
    assert churn["observed_std"] == pytest.approx(expected.observed_std)
    assert churn["n_examples"] == 4 and churn["n_seeds"] == 3
    assert [flip[0] for flip in churn["top_flips"]] == ["b", "c"]
    html = client.get(f"/jobs/{job['id']}").text
    assert 'id="churn-sentence"' in html and "50.0%</strong>" in html


def test_no_churn_without_predictions(client: TestClient, driver: AgentDriver) -> None:
    job = _submit(client, seeds="42:2x1")
    driver.complete_next(epochs=3)
    driver.complete_next(epochs=3)
    assert client.get(f"/api/v1/jobs/{job['id']}/report").json()["churn"] is None
