"""Helpers to launch real runs and collect their events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from seedlab.profiles import Profile, ProfileSpec, resolve_profile
from seedlab.runner.launcher import Launcher, RunHandle
from seedlab.runspec import RunSpec

# Small parameters: every built-in finishes in a few seconds, two epochs each.
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "seed_card_mlp": {},
    "credit_risk_mlp": {"epochs": 2},
    "digits_cnn": {"epochs": 2},
}


def profile(preset: str = "full", **overrides: Any) -> Profile:
    """A resolved profile: a preset plus toggle, env or isolation overrides."""
    return resolve_profile(ProfileSpec(preset=preset, **overrides))


def spec(experiment: str, *, seed: int = 42, params: dict[str, Any] | None = None,
         run_profile: Profile | None = None) -> RunSpec:
    """A RunSpec with test defaults."""
    return RunSpec(
        run_id=1,
        attempt=1,
        experiment=experiment,
        params=SMALL_PARAMS.get(experiment, {}) if params is None else params,
        seed=seed,
        profile=run_profile or profile(),
    )


@dataclass
class RunResult:
    """Everything a finished run told us."""

    handle: RunHandle
    events: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None

    def kinds(self) -> list[str]:
        """The event names, in order."""
        return [event["event"] for event in self.events]

    def only(self, kind: str) -> dict[str, Any]:
        """The single event of that kind."""
        matches = [event for event in self.events if event["event"] == kind]
        assert len(matches) == 1, (kind, self.kinds(), self.handle.stderr_tail())
        return matches[0]

    @property
    def done(self) -> dict[str, Any]:
        """The done event (asserting the run succeeded)."""
        assert self.exit_code == 0, (self.exit_code, self.events, self.handle.stderr_tail())
        return self.only("done")

    @property
    def epochs(self) -> list[dict[str, Any]]:
        """The epoch events, in order."""
        return [event for event in self.events if event["event"] == "epoch"]

    @property
    def fingerprint(self) -> dict[str, Any]:
        """The fingerprint event."""
        return self.only("fingerprint")

    @property
    def applied(self) -> dict[str, Any]:
        """The applied profile as read back in the run process."""
        profile_read_back: dict[str, Any] = self.only("applied")["profile"]
        return profile_read_back


def collect(handle: RunHandle) -> RunResult:
    """Read every event of a started run, then its exit code."""
    result = RunResult(handle)
    result.events = list(handle.events())
    result.exit_code = handle.wait()
    return result


def run(launcher: Launcher, run_spec: RunSpec) -> RunResult:
    """Start one run and wait for its end."""
    return collect(launcher.start(run_spec))


def run_concurrently(launcher: Launcher, specs: list[RunSpec]) -> list[RunResult]:
    """Start cold-spawned runs together (they are independent processes), then collect each.

    Events are small, so a run never blocks on a full pipe while we read another one.
    """
    handles = [launcher.start(item) for item in specs]
    assert all(h.isolation == "process" for h in handles), "only cold spawns run concurrently"
    return [collect(handle) for handle in handles]


def metric_curves(result: RunResult) -> list[dict[str, float]]:
    """Per-epoch metrics, in order."""
    return [event["metrics"] for event in result.epochs]
