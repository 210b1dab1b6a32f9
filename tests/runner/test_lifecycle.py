"""Run process lifecycle: failures, kills, a busy zygote, a dead zygote."""

from __future__ import annotations

import os
import signal
import time

import pytest

from seedlab.runner import launcher as launcher_module
from seedlab.runner.launcher import Launcher, RunHandle, Zygote
from tests.runner.support import collect, profile, run, spec

pytestmark = pytest.mark.tf

LONG_RUN = {"epochs": 1000, "n_samples": 2000}


def _until_first_epoch(handle: RunHandle) -> list[str]:
    """Read events up to the first epoch; the run keeps going."""
    seen = []
    for event in handle.events():
        seen.append(event["event"])
        if event["event"] == "epoch":
            return seen
    raise AssertionError(f"run ended before its first epoch: {seen} {handle.stderr_tail()}")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_failing_experiment_reports_error_and_launcher_survives(launcher: Launcher) -> None:
    params = {"fail_seed": 42, "epochs": 1}
    failing = run(launcher, spec("flaky_test", seed=42, params=params))
    assert failing.exit_code == 1
    # The fingerprint is still sent: the environment explains many failures.
    assert failing.kinds() == ["applied", "fingerprint", "error"]
    error = failing.only("error")
    assert error["error"] == "ValueError: deliberate failure for seed 42"
    assert error["traceback"].startswith("Traceback (most recent call last)")
    assert "plugin_experiments.py" in error["traceback"]

    after = run(launcher, spec("flaky_test", seed=43, params=params))
    assert after.done["weights_checksum"]
    assert after.handle.zygote_pid == failing.handle.zygote_pid


@pytest.mark.parametrize(
    ("experiment", "params", "message"),
    [
        ("seed_card_mlp", {"units": 0}, "ValidationError: 1 validation error for SeedCardParams"),
        ("no_such_experiment", {}, "KeyError: 'no_such_experiment'"),
    ],
)
def test_bad_requests_fail_inside_the_run(
    launcher: Launcher, experiment: str, params: dict[str, int], message: str
) -> None:
    result = run(launcher, spec(experiment, params=params))
    assert result.exit_code == 1
    assert result.only("error")["error"].startswith(message)
    assert "done" not in result.kinds()


def test_killed_run_exits_negative_and_a_busy_zygote_refuses_a_second_run(
    launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    handle = launcher.start(spec("seed_card_mlp", params=LONG_RUN))
    assert _until_first_epoch(handle) == ["applied", "fingerprint", "epoch"]
    # One run at a time per zygote: a second start must not steal the first one's replies.
    monkeypatch.setattr(launcher_module, "PREVIOUS_RUN_EXIT_TIMEOUT", 0.2)
    with pytest.raises(RuntimeError, match="still running"):
        launcher.start(spec("seed_card_mlp"))
    handle.kill()
    assert all(event["event"] == "epoch" for event in handle.events())
    assert handle.wait() == -signal.SIGKILL
    handle.kill()  # harmless once it ended

    after = run(launcher, spec("seed_card_mlp"))
    assert after.done and after.handle.zygote_pid == handle.zygote_pid


def test_dead_zygote_is_restarted_on_next_start(launcher: Launcher) -> None:
    handle = launcher.start(spec("seed_card_mlp", params=LONG_RUN))
    _until_first_epoch(handle)
    zygote_pid = handle.zygote_pid
    assert zygote_pid is not None
    os.kill(zygote_pid, signal.SIGKILL)
    # The run dies with its zygote (PR_SET_PDEATHSIG) instead of running on unsupervised.
    list(handle.events())
    assert handle.wait() == -signal.SIGKILL
    deadline = time.monotonic() + 10
    while not _gone(handle.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(handle.pid)
    while zygote_pid in launcher.zygote_pids() and time.monotonic() < deadline:
        time.sleep(0.05)

    after = run(launcher, spec("seed_card_mlp"))
    assert after.done and after.handle.isolation == "fork"
    assert after.handle.zygote_pid not in (None, zygote_pid)


def test_zygote_dying_unnoticed_is_replaced_within_the_same_start(
    launcher: Launcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = run(launcher, spec("seed_card_mlp"))
    zygote_pid = before.handle.zygote_pid
    assert zygote_pid is not None
    os.kill(zygote_pid, signal.SIGKILL)
    # Pretend it still looked alive: the fork request itself must discover the death.
    monkeypatch.setattr(Zygote, "alive", lambda self: True)
    handle = launcher.start(spec("seed_card_mlp"))
    monkeypatch.undo()
    after = collect(handle)
    assert after.handle.zygote_pid != zygote_pid
    assert after.done["weights_checksum"] == before.done["weights_checksum"]


def test_zygotes_beyond_the_cap_stop_least_recently_used_first() -> None:
    capped = Launcher(max_zygotes=1)
    try:
        onednn_off = profile("full", onednn_off=True)
        first = run(capped, spec("seed_card_mlp"))
        assert capped.zygote_pids() == [first.handle.zygote_pid]
        # Another pre-import environment: its zygote replaces the idle one.
        second = run(capped, spec("seed_card_mlp", run_profile=onednn_off))
        assert second.done and second.handle.isolation == "fork"
        assert capped.zygote_pids() == [second.handle.zygote_pid]
        assert first.handle.zygote_pid is not None and _gone(first.handle.zygote_pid)
        # Back to the first environment: a fresh zygote, the same weights as before.
        third = run(capped, spec("seed_card_mlp"))
        assert third.handle.zygote_pid not in (first.handle.zygote_pid, second.handle.zygote_pid)
        assert third.done["weights_checksum"] == first.done["weights_checksum"]
    finally:
        capped.close()


def test_max_zygotes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Launcher(max_zygotes=0)


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as children:
            found.update(int(child) for child in children.read().split())
    return found


def _private_dirty_mb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Private_Dirty:"):
                return int(line.split()[1]) // 1024
    raise AssertionError(f"no Private_Dirty for {pid}")


@pytest.mark.parametrize("copy_pages", [False, True], ids=["shared-pages", "copied-pages"])
def test_a_spare_child_waits_for_the_next_run_and_leaves_with_the_zygote(
    copy_pages: bool,
) -> None:
    # Its own zygote: closing the shared one would slow the other tests.
    own = Launcher(copy_pages=copy_pages)
    try:
        first = run(own, spec("seed_card_mlp"))
        zygote_pid = first.handle.zygote_pid
        assert zygote_pid is not None and first.done
        spares = _children(zygote_pid)  # the finished run was reaped; the next one waits
        assert len(spares) == 1 and first.handle.pid not in spares
        (spare,) = spares
        if copy_pages:  # it writes to the ~100 MB of objects it inherited, at idle priority
            deadline = time.monotonic() + 30
            while _private_dirty_mb(spare) < 60 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _private_dirty_mb(spare) >= 60
        else:  # by default it shares every page with the zygote until its run writes them
            time.sleep(1)
            assert _private_dirty_mb(spare) < 20
        second = run(own, spec("seed_card_mlp"))
        assert second.handle.pid in spares  # the spare became the run
        assert second.done["weights_checksum"] == first.done["weights_checksum"]
        spares = _children(zygote_pid)
        assert len(spares) == 1
    finally:
        own.close()
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in spares) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(pid) for pid in spares)


def test_warm_starts_the_zygote_the_next_run_forks_from() -> None:
    own = Launcher()
    try:
        assert own.warm(profile("none")) is None  # hash seed off: runs are cold-spawned
        assert own.zygote_pids() == []
        pid = own.warm(profile("full"))
        assert pid is not None and own.zygote_pids() == [pid]
        assert own.warm(profile("full")) == pid  # already warm: the same zygote
        result = run(own, spec("seed_card_mlp"))
        assert result.done and result.handle.zygote_pid == pid
    finally:
        own.close()
