"""The warm Ray worker's task body, run in this process without a cluster: it forks each run
from the zygote it keeps, streams the run's events, and kills the run when the stream is
closed (what a cancel does to a task that is not killed by force)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from seedlab.profiles import resolve_profile
from seedlab.runner import raytask
from seedlab.runspec import RunSpec

pytestmark = [pytest.mark.tf]


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process as a Ray worker of the `full` profile's pre-import environment."""
    monkeypatch.setattr(raytask, "ray_node", lambda: {"version": "test", "node_id": "n"})
    for name, value in resolve_profile("full").pre_import_env().items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    yield
    for launcher in raytask._warm.values():
        launcher.close()
    raytask._warm.clear()


def _payload(run_id: int, epochs: int) -> str:
    """The spec's JSON, as the Ray launcher submits it."""
    spec = RunSpec(
        run_id=run_id,
        attempt=1,
        experiment="seed_card_mlp",
        params={"epochs": epochs},
        seed=42,
        profile=resolve_profile("full"),
    )
    return spec.model_dump_json()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_runs_fork_from_one_zygote_and_a_closed_stream_kills_the_run(worker: None) -> None:
    first = list(raytask.run_warm(_payload(1, 2), {}, None))
    second = list(raytask.run_warm(_payload(2, 2), {}, None))
    for events in (first, second):
        assert events[0]["event"] == "isolation" and events[0]["isolation"] == "fork"
        assert events[-1] == {"event": "exit", "code": 0, "stderr": ""}
        assert [e["event"] for e in events].count("done") == 1
    done = [next(e for e in events if e["event"] == "done") for events in (first, second)]
    # Same seed, same bits, though the second run came from a zygote that served the first.
    assert done[0]["weights_checksum"] == done[1]["weights_checksum"]
    (launcher,) = raytask._warm.values()  # one launcher, one zygote, for both runs
    assert len(launcher.zygote_pids()) == 1

    stream = raytask.run_warm(_payload(3, 5000), {}, None)
    started = next(stream)
    pid = int(started["pid"])
    assert next(stream)["event"] == "applied"  # the run is under way
    assert _alive(pid)
    stream.close()  # what Ray does to the generator of a cancelled task
    assert not _alive(pid)
