"""The control table (seedlab/controls.py) generates profile, presets, help and run-page texts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seedlab.controls import CONTROLS, PRESET_NAMES, applied_toggles, how_texts
from seedlab.profiles import PRESETS, TOGGLES, Profile, ProfileSpec, resolve_profile

ROOT = Path(__file__).resolve().parents[1]

# A fresh interpreter registers one more row (and nothing else: no other file knows it), then
# checks every place the table reaches.
EXTRA_CONTROL = textwrap.dedent(
    """
    import os, re, sys, tempfile
    from pathlib import Path

    from seedlab.controls import Control, Step, register_control

    applied = []

    def apply_knob(on, seed, values):
        applied.append((on, seed))

    register_control(Control(
        name="extra_knob",
        help="turns the extra knob of the test framework",
        full=True,
        seeds_only=False,
        steps=(
            Step("env", "EXTRA_KNOB=1 in the environment before start",
                 env=lambda on, values: {"EXTRA_KNOB": "1"} if on else {}),
            Step("start", "extra knob turned at interpreter start", apply=apply_knob),
        ),
        off="extra knob left alone",
    ))

    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from seedlab.app import create_app
    from seedlab.cli import app as cli
    from seedlab.config import Settings
    from seedlab.profiles import ProfileSpec, resolve_profile
    from seedlab.runner.controls import apply_steps

    # The profile: a field, preset defaults, an override, the pre-import environment.
    full, none = resolve_profile("full"), resolve_profile("none")
    assert full.extra_knob is True and none.extra_knob is False
    assert resolve_profile("seeds_only").extra_knob is False
    custom = resolve_profile(ProfileSpec(preset="full", extra_knob=False))
    assert custom.extra_knob is False and custom.name == "full+custom"
    assert full.pre_import_env()["EXTRA_KNOB"] == "1" and "EXTRA_KNOB" not in none.pre_import_env()
    # Its in-process step runs with the run's seed.
    apply_steps(full, "start", seed=7)
    assert applied == [(True, 7)], applied

    # --help of submit lists it.
    out = CliRunner().invoke(cli, ["submit", "--help"], env={"COLUMNS": "200"}).output
    flat = " ".join(re.sub("[\u2500-\u257f]", " ", out).split())  # box drawing, wrapping
    assert "extra_knob (full): turns the extra knob of the test framework" in flat, out

    with TestClient(create_app(Settings(data_dir=Path(tempfile.mkdtemp()),
                                        allowed_hosts=["testserver"]))) as client:
        # The new-job form has its checkbox and help, and the preset data turns it on for full.
        form = client.get("/jobs/new").text
        assert 'id="toggle-extra_knob"' in form and "turns the extra knob" in form
        assert '"extra_knob": true' in form
        # The REST API accepts it in a profile and stores it.
        job = client.post("/api/v1/jobs", json={
            "experiment": "credit_risk_mlp", "seeds": "1:1x1", "params": {"epochs": 1},
            "profile": {"preset": "none", "extra_knob": True}}).json()
        assert job["profile"]["extra_knob"] is True, job
        # The run page's "how" list shows it as the run process records it.
        agent = client.post("/api/v1/agent/register", json={"name": "t", "hostname": "t"}).json()
        claim = client.post("/api/v1/agent/claim", json={"agent_id": agent["id"]}).json()
        how = resolve_profile(ProfileSpec(preset="none", extra_knob=True)).how()
        assert how["extra_knob"] == ("EXTRA_KNOB=1 in the environment before start; "
                                     "extra knob turned at interpreter start")
        response = client.post(f"/api/v1/agent/runs/{claim['run_id']}/started", json={
            "attempt": claim["attempt"], "applied_profile": {"seed": 1, "how": how},
            "fingerprint_hash": "0" * 64, "fingerprint": {}, "isolation": "process"})
        assert response.status_code in (200, 204), response.text
        page = client.get(f"/runs/{claim['run_id']}").text
        assert 'id="applied-how"' in page and "extra knob turned at interpreter start" in page
    print("EXTRA CONTROL OK")
    """
)


def test_a_new_row_reaches_profile_form_help_and_run_page() -> None:
    """One Control row, registered by a test, shows up everywhere with no other file edited."""
    done = subprocess.run(
        [sys.executable, "-c", EXTRA_CONTROL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0 and "EXTRA CONTROL OK" in done.stdout, done.stderr[-4000:]


def test_presets_and_fields_come_from_the_table() -> None:
    assert tuple(row.name for row in CONTROLS) == TOGGLES
    for preset in PRESET_NAMES:
        assert PRESETS[preset] == {row.name: row.default(preset) for row in CONTROLS}
    assert not any(PRESETS["none"].values())
    schema = ProfileSpec.model_json_schema()["properties"]
    for row in CONTROLS:
        assert row.name in Profile.model_fields and schema[row.name]["description"] == row.help


def test_a_stored_profile_without_newer_controls_still_loads() -> None:
    """Jobs stored before a control existed: the control takes its preset's default."""
    stored = {"name": "none", "hash_seed": False, "python_seed": False}
    profile = Profile.model_validate(stored)
    assert profile.toggles() == PRESETS["none"]
    full = resolve_profile("full").model_dump()
    dropped = {k: v for k, v in full.items() if k not in TOGGLES[2:]}
    assert Profile.model_validate(dropped).toggles() == PRESETS["full"]
    # The JSON shape keeps its field names.
    assert set(TOGGLES) | {"name", "hash_seed_value", "env", "isolation"} <= set(full)


def test_how_texts_for_a_script_that_never_imported_tensorflow() -> None:
    profile = resolve_profile("full").model_dump()
    how = how_texts(profile, imported=set())
    assert how["tf_seed"] == "not applied: the script never imported TensorFlow"
    assert how["single_thread"] == "OMP_NUM_THREADS=1 in the environment before start"
    assert how["hash_seed"] == "PYTHONHASHSEED=0 in the environment before start"
    with_tf = how_texts(profile, imported={"tensorflow"})
    assert with_tf["tf_seed"].startswith("start-up hook: tf.random.set_seed(seed)")
    off = how_texts(resolve_profile("none").model_dump(), imported={"tensorflow"})
    assert off["hash_seed"].startswith("PYTHONHASHSEED removed")


def test_how_texts_of_a_catalog_run_name_the_run_process_and_the_experiment() -> None:
    profile = resolve_profile("full").model_dump()
    how = how_texts(profile, imported={"tensorflow"}, runner="catalog")
    assert how["tf_seed"] == "tf.random.set_seed(seed) by the run process before the experiment"
    assert how["torch_seed"] == "not applied: the experiment never imported PyTorch"
    assert not any("start-up hook" in text for text in how.values()), how
    # A row without catalog words keeps its own.
    assert how["hash_seed"] == "PYTHONHASHSEED=0 in the environment before start"
    off = how_texts(resolve_profile("none").model_dump(), imported=set(), runner="catalog")
    assert off["python_seed"] == "not seeded: random.seed() from OS entropy by the run process"


def test_applied_toggles_count_the_runs_where_each_control_took_effect() -> None:
    full = resolve_profile("full")
    requested = full.model_dump()
    torch_run = {"how": full.how({"torch"})}  # a PyTorch script: TF's controls never ran
    tf_run = {"how": full.how({"tensorflow"})}
    legacy_run: dict[str, object] = {"seed": 1}  # recorded before runs said how
    rows = {r.name: r for r in applied_toggles(requested, [torch_run, tf_run, legacy_run])}
    assert tuple(rows) == tuple(TOGGLES)
    assert (rows["tf_seed"].reported, rows["tf_seed"].applied) == (3, 2)
    assert rows["tf_seed"].reason == "not applied: the script never imported TensorFlow"
    assert (rows["torch_seed"].applied, rows["hash_seed"].applied) == (2, 3)
    assert rows["hash_seed"].reason is None
    # A control the profile leaves off is applied nowhere and needs no reason.
    assert not rows["onednn_off"].requested and rows["onednn_off"].applied == 0
    assert rows["onednn_off"].reason is None
    assert applied_toggles(requested, [])[0].reported == 0


@pytest.mark.parametrize("name", ["hash_seed", "op_determinism"])
def test_register_refuses_duplicates_and_late_rows(name: str) -> None:
    from seedlab.controls import Control, register_control

    with pytest.raises((ValueError, RuntimeError)):
        register_control(Control(name=name, help="", full=True, seeds_only=True, steps=()))


def test_readme_profile_table_matches_the_control_table() -> None:
    """README's Profiles table lists every control with its presets, in table order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Profiles", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    listed = {}
    for line in rows:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        listed[cells[0].strip("`")] = tuple(cell == "✓" for cell in cells[2:5])
    assert list(listed) == list(TOGGLES)
    for row in CONTROLS:
        assert listed[row.name] == tuple(row.default(p) for p in PRESET_NAMES), row.name
