"""The data sets page and the data-set inputs of the new-job form (no browser)."""

from __future__ import annotations

import html as htmllib
import json
import re

from fastapi.testclient import TestClient

from seedlab.experiments.catalog import get_experiment
from seedlab.pages.forms import form_fields

CSV = b"age,plan,score,label\n30,basic,1.5,yes\n41,pro,,no\n52,basic,2.5,yes\n"


def test_datasets_page_lists_uploads_with_columns(client: TestClient) -> None:
    empty = client.get("/datasets").text
    assert 'id="no-datasets"' in empty and 'id="dataset-upload"' in empty
    assert 'href="/datasets"' in client.get("/").text  # linked from the nav
    stored = client.post(
        "/api/v1/datasets", files={"file": ("people.csv", CSV, "text/csv")}
    ).json()
    page = client.get("/datasets").text
    row = re.search(r'<tr data-dataset="people".*?</tr>', page, re.S)
    assert row, page
    text = row.group(0)
    assert stored["sha256"][:12] in text and ">3<" in text
    assert "<code>score</code> <span class=\"muted\">number, 1 missing" in text
    assert "<code>plan</code> <span class=\"muted\">string, 2 distinct" in text


def test_form_renders_data_set_widgets(client: TestClient) -> None:
    spec = get_experiment("tabular_csv")
    fields = {f.name: f for f in form_fields(spec.params_schema(), spec.validate_params({}))}
    assert (fields["dataset"].kind, fields["target"].kind, fields["features"].kind) == (
        "dataset", "column", "columns"
    )
    assert fields["target"].source == "dataset" and fields["epochs"].kind == "integer"

    before = client.get("/jobs/new?experiment=tabular_csv").text
    assert "no data sets uploaded yet" in before
    stored = client.post(
        "/api/v1/datasets?name=people", files={"file": ("p.csv", CSV, "text/csv")}
    ).json()
    page = client.get("/jobs/new?experiment=tabular_csv").text
    option = re.search(r'<option value="([0-9a-f]{64})" data-name="people" '
                       r"data-columns='([^']*)'>", page)
    assert option and option.group(1) == stored["sha256"]
    columns = json.loads(htmllib.unescape(option.group(2)))
    assert columns == [
        {"name": "age", "type": "number", "binary": False},
        {"name": "plan", "type": "string", "binary": True},
        {"name": "score", "type": "number", "binary": False},
        {"name": "label", "type": "string", "binary": True},
    ]
    assert 'data-kind="column" data-source="dataset"' in page
    assert 'data-kind="columns" data-source="dataset" multiple' in page


def test_a_tabular_csv_job_page_names_its_data_set_with_the_hash_beside(
    client: TestClient,
) -> None:
    stored = client.post(
        "/api/v1/datasets?name=people", files={"file": ("p.csv", CSV, "text/csv")}
    ).json()
    job = client.post(
        "/api/v1/jobs",
        json={"experiment": "tabular_csv", "seeds": "1:2x1",
              "params": {"dataset": "people", "target": "label", "epochs": 1}},
    )
    assert job.status_code == 201, job.text
    page = client.get(f"/jobs/{job.json()['id']}").text
    cell = re.search(r'<tr><th scope="row">dataset</th><td>(.*?)</td></tr>', page, re.S)
    assert cell, page
    assert 'data-dataset="people"' in cell.group(1) and "<strong>people</strong>" in cell.group(1)
    assert stored["sha256"][:12] in cell.group(1) and f"sha256 {stored['sha256']}" in cell.group(1)
