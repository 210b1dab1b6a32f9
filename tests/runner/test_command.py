"""Command experiments through the real launcher: real scripts, real TF, the start-up hook."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seedlab.runner.launcher import COMMAND_COLD, Launcher
from tests.runner.support import RunResult, profile, run, spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "keras_script"

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def launcher() -> Iterator[Launcher]:
    """A launcher whose run processes import this worktree's seedlab."""
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "backend"), str(REPO), os.environ.get("PYTHONPATH")])
    )
    shared = Launcher(base_env={**os.environ, "PYTHONPATH": pythonpath})
    yield shared
    shared.close()


def _in(directory: Path, launcher: Launcher, experiment: str, **kwargs: object) -> RunResult:
    """Run an experiment with the launcher looking up the project file of `directory`."""
    before = Path.cwd()
    os.chdir(directory)
    try:
        return run(launcher, spec(experiment, **kwargs))  # type: ignore[arg-type]
    finally:
        os.chdir(before)


@pytest.fixture(scope="module")
def example_full(launcher: Launcher) -> RunResult:
    """The example script once under `full`, seed 7."""
    return _in(EXAMPLE, launcher, "keras_script", seed=7, params={"epochs": 2})


def test_example_runs_cold_with_every_control_and_says_how(example_full: RunResult) -> None:
    result = example_full
    assert result.handle.isolation == "process"
    assert result.handle.isolation_reason == COMMAND_COLD
    assert result.kinds()[:2] == ["applied", "fingerprint"]
    assert result.kinds()[-1] == "done"
    applied = result.applied
    # The keys every run has, read back inside the script's interpreter.
    assert applied["hash_seed"] == "0" and applied["hash_randomization"] is False
    assert (applied["python_seed"], applied["numpy_seed"], applied["tf_seed"]) == (7, 7, 7)
    assert applied["op_determinism"] is True
    assert (applied["inter_op_threads"], applied["intra_op_threads"]) == (1, 1)
    assert applied["isolation"] == "process"
    how = applied["how"]
    assert how["python_seed"] == "start-up hook: random.seed(seed) at interpreter start"
    assert how["tf_seed"] == "start-up hook: tf.random.set_seed(seed) when TensorFlow is imported"
    assert "TF_DETERMINISTIC_OPS=1" in how["op_determinism"]
    assert how["hash_seed"] == "PYTHONHASHSEED=0 in the environment before start"
    # Keras fit was hooked: two epochs, a checksum each, and the data hash of x and y.
    assert [e["epoch"] for e in result.epochs] == [1, 2]
    assert all(e["epochs"] == 2 for e in result.epochs)
    done = result.done
    assert done["weights_checksum"] == result.epochs[-1]["weights_checksum"]
    assert len(done["data_hash"]) == 64
    data = result.fingerprint["data"]
    assert data["data_hash"] == done["data_hash"]
    assert data["experiment"]["name"] == "keras_script"
    # The template, so that every seed of a job has the same fingerprint.
    assert data["experiment"]["command"] == (
        "python train.py --epochs {epochs} --lr {learning_rate} --units {units}"
    )
    # The script's own output is kept as the run's output.
    assert "final loss" in result.handle.stderr_tail()


def test_same_seed_is_bit_identical_and_none_differs(
    launcher: Launcher, example_full: RunResult
) -> None:
    again = _in(EXAMPLE, launcher, "keras_script", seed=7, params={"epochs": 2})
    assert again.done["epoch_checksums"] == example_full.done["epoch_checksums"]
    assert again.done["data_hash"] == example_full.done["data_hash"]
    loose = [
        _in(EXAMPLE, launcher, "keras_script", seed=7, params={"epochs": 2},
            run_profile=profile("none"))
        for _ in range(2)
    ]
    assert loose[0].done["weights_checksum"] != loose[1].done["weights_checksum"]
    # NumPy unseeded: the script drew different data, and the hook saw it.
    assert loose[0].done["data_hash"] != loose[1].done["data_hash"]
    assert loose[0].applied["how"]["python_seed"].startswith("start-up hook: random.seed() from")


# Seeds set by hand the way the article says, before the unmodified script runs; no seedlab.
MANUAL = """
import hashlib, random, runpy, sys
import numpy as np
random.seed(7)
np.random.seed(7)
import tensorflow as tf
tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.random.set_seed(7)
tf.config.experimental.enable_op_determinism()
models = []
fit = tf.keras.Model.fit
def keep(self, *args, **kwargs):
    models.append(self)
    return fit(self, *args, **kwargs)
tf.keras.Model.fit = keep
sys.argv = ["train.py", "--epochs", "2", "--lr", "0.01", "--units", "16"]
runpy.run_path("train.py", run_name="__main__")
digest = hashlib.sha256()
for weight in models[-1].weights:
    digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
print("CHECKSUM", digest.hexdigest())
"""


def test_hook_matches_a_cold_run_with_seeds_set_by_hand(example_full: RunResult) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SEEDLAB_") and key != "PYTHONPATH"
    }
    env.update(PYTHONHASHSEED="0", OMP_NUM_THREADS="1", TF_DETERMINISTIC_OPS="1",
               TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    manual = subprocess.run(
        [sys.executable, "-c", MANUAL], cwd=EXAMPLE, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )
    assert manual.returncode == 0, manual.stderr[-3000:]
    line = next(x for x in manual.stdout.splitlines() if x.startswith("CHECKSUM "))
    assert line.split()[1] == example_full.done["weights_checksum"]


def _project(tmp_path: Path, toml: str, **scripts: str) -> Path:
    (tmp_path / "seedlab.toml").write_text(textwrap.dedent(toml))
    for name, body in scripts.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    return tmp_path


JSONL_TOML = """
[experiments.jsonl]
command = "python jsonl.py --steps {steps} --seed {seed}"
[experiments.jsonl.params]
steps = { type = "int", default = 3, min = 1, max = 10 }

[experiments.filed]
command = "python filed.py"
metrics_file = "out/metrics.jsonl"

[experiments.failing]
command = "python failing.py"

[experiments.not_python]
command = "sh -c 'echo hello'"

[experiments.silent]
command = "python -c pass"

[experiments.sleeper]
command = "python sleeper.py"

[experiments.follower]
command = "python follower.py"
metrics_file = "follow.jsonl"
"""

FOLLOWER = """
import os, time
with open("follow.jsonl", "w") as f:
    f.write('{"epoch": 1, "loss": 0.5}\\n')
    f.flush()
    while not os.path.exists("go"):
        time.sleep(0.05)
    f.write('{"epoch": 2, "loss": 0.25}')  # the last line may lack its newline
"""

SLEEPER = """
import os, time
print('{"epoch": 1, "loss": 1.0}', flush=True)
with open("sleeper.pid", "w") as f:
    f.write(str(os.getpid()))
time.sleep(600)
"""

JSONL = """
import argparse, json, os, random
parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int)
parser.add_argument("--seed", type=int)
args = parser.parse_args()
assert args.seed == int(os.environ["SEEDLAB_SEED"])
print("starting, not JSON")
print("{not json either")
loss = 1.0
for step in range(1, args.steps + 1):
    loss *= random.random()
    print(json.dumps({"step": step, "loss": loss, "note": "ignored"}), flush=True)
"""

FILED = """
import json, os, random
os.makedirs("out", exist_ok=True)
with open("out/metrics.jsonl", "w") as f:
    for epoch in (1, 2):
        f.write(json.dumps({"epoch": epoch, "acc": random.random(), "weights_checksum": "ab"}))
        f.write("\\n")
"""

FAILING = """
import sys
print("the data file data.csv is missing", file=sys.stderr)
sys.exit(3)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _project(
        tmp_path_factory.mktemp("project"), JSONL_TOML, jsonl=JSONL, filed=FILED, failing=FAILING,
        sleeper=SLEEPER, follower=FOLLOWER,
    )


def test_json_lines_on_stdout_are_epochs_and_seeded(launcher: Launcher, project: Path) -> None:
    results = [_in(project, launcher, "jsonl", seed=3, params={"steps": 3}) for _ in range(2)]
    first = results[0]
    assert [e["epoch"] for e in first.epochs] == [1, 2, 3]
    assert set(first.epochs[0]["metrics"]) == {"loss"}
    done = first.done
    assert done["final_metrics"] == first.epochs[-1]["metrics"]
    assert done["weights_checksum"] is None and done["data_hash"] is None
    # random was seeded at interpreter start by the hook: the same losses both times.
    assert [e["metrics"] for e in results[1].epochs] == [e["metrics"] for e in first.epochs]
    assert first.applied["tf_seed"] is None  # the script never imported TF
    assert first.applied["how"]["tf_seed"] == "not applied: the script never imported TensorFlow"
    assert first.fingerprint["data"]["tensorflow"] is None
    output = first.handle.stderr_tail()
    assert "starting, not JSON" in output and "{not json either" in output
    assert '"step": 1' not in output


def test_metrics_file_lines_are_epochs(launcher: Launcher, project: Path) -> None:
    result = _in(project, launcher, "filed", params={})
    assert [e["epoch"] for e in result.epochs] == [1, 2]
    assert result.done["weights_checksum"] == "ab"
    assert result.done["epoch_checksums"] == ["ab", "ab"]


def test_failing_script_is_a_failed_run_with_its_stderr(launcher: Launcher, project: Path) -> None:
    result = _in(project, launcher, "failing", params={})
    assert result.exit_code == 1
    error = result.only("error")
    assert error["error"] == "command exited with code 3"
    assert "the data file data.csv is missing" in error["traceback"]
    assert "done" not in result.kinds()


def test_command_that_is_not_python_is_refused_loudly(launcher: Launcher, project: Path) -> None:
    result = _in(project, launcher, "not_python", params={})
    assert result.exit_code == 1
    assert "start-up hook did not run in 'sh'" in result.only("error")["error"]


def test_script_without_metrics_says_how_to_report(launcher: Launcher, project: Path) -> None:
    result = _in(project, launcher, "silent", params={})
    assert result.exit_code == 1
    assert "reported no metrics" in result.only("error")["error"]


def test_uncaught_exception_names_it(launcher: Launcher, tmp_path: Path) -> None:
    directory = _project(
        tmp_path,
        '[experiments.raises]\ncommand = "python raises.py"\n',
        raises="raise ValueError('column amount has strings')\n",
    )
    result = _in(directory, launcher, "raises", params={})
    error = result.only("error")
    assert error["error"] == "ValueError: column amount has strings"
    assert "Traceback" in error["traceback"]



def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_killing_the_run_stops_the_script(launcher: Launcher, project: Path) -> None:
    before = Path.cwd()
    os.chdir(project)
    try:
        handle = launcher.start(spec("sleeper", params={}))
    finally:
        os.chdir(before)
    events = handle.events()
    assert next(events)["event"] == "epoch"  # the script is running
    pid = 0
    while not pid:  # written right after the epoch line
        try:
            pid = int((project / "sleeper.pid").read_text())
        except (FileNotFoundError, ValueError):
            time.sleep(0.05)
    assert _alive(pid)
    handle.kill()
    assert handle.wait() == -signal.SIGKILL
    for _ in range(200):  # the kernel delivers the death signal asynchronously
        if not _alive(pid):
            break
        time.sleep(0.05)
    assert not _alive(pid)


def test_metrics_file_is_followed_while_the_script_runs(launcher: Launcher, project: Path) -> None:
    (project / "go").unlink(missing_ok=True)
    before = Path.cwd()
    os.chdir(project)
    try:
        handle = launcher.start(spec("follower", params={}))
    finally:
        os.chdir(before)
    events = handle.events()
    first = next(events)  # the script is still waiting for "go": the file was read live
    assert (first["event"], first["epoch"], first["metrics"]) == ("epoch", 1, {"loss": 0.5})
    (project / "go").write_text("")
    rest = list(events)
    assert handle.wait() == 0
    assert [e["epoch"] for e in rest if e["event"] == "epoch"] == [2]
    assert rest[-1]["event"] == "done" and rest[-1]["final_metrics"] == {"loss": 0.25}
