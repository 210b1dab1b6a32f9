"""Helpers for page tests: drive runs through the real agent endpoints, read HTML tables."""

from __future__ import annotations

import hashlib
import math
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Protocol

from seedlab.profiles import Profile
from seedlab.runner.child import FrameworkSteps

METRICS = ("loss", "val_loss", "val_auc")


class Http(Protocol):
    """What both fastapi's TestClient and httpx.Client offer."""

    def post(self, url: str, *, json: Any = ..., headers: Any = ...) -> Any: ...


def metric_value(seed: int, metric: str, epoch: int, jitter: float = 0.0) -> float:
    """A plausible training curve; a pure function of (seed, metric, epoch) plus jitter."""
    offset = ((seed * 7919) % 97) / 97.0  # seed-to-seed variation
    if metric == "val_auc":
        return 0.86 + 0.1 * (1 - math.exp(-epoch / 2.5)) + 0.012 * offset + jitter
    if metric == "val_loss":
        return 0.25 + 0.45 * math.exp(-epoch / 3.0) + 0.02 * offset + jitter
    return 0.18 + 0.55 * math.exp(-epoch / 2.0) + 0.015 * offset + jitter


def checksum(seed: int, epoch: int, salt: str = "") -> str:
    """A weight checksum that depends only on seed, epoch (and salt for a divergent run)."""
    return hashlib.sha256(f"{seed}:{epoch}:{salt}".encode()).hexdigest()


TRACE_LAYERS = ("dense", "dense_1")
STEPS_PER_EPOCH = 2


def fake_trace(seed: int, epochs: int, salt: str, *, traced: bool) -> dict[str, Any]:
    """A run trace in which a salted run's dense_1 layer (only) parts from epoch 3, step 1."""

    def layers(epoch: int, step: int) -> list[str]:
        late = epoch > 2
        return [
            checksum(seed, epoch * 100 + step, "dense")[:16],
            checksum(seed, epoch * 100 + step, "dense_1" + (salt if late else ""))[:16],
        ]

    return {
        "layers": list(TRACE_LAYERS),
        "initial": layers(0, 0),
        "epochs": [layers(e, STEPS_PER_EPOCH) for e in range(1, epochs + 1)],
        "steps": [
            [e, s, checksum(seed, e * 100 + s, "input")[:16], layers(e, s)]
            for e in range(1, epochs + 1)
            for s in range(1, STEPS_PER_EPOCH + 1)
        ]
        if traced
        else None,
    }


def fake_fingerprint() -> dict[str, Any]:
    """A fingerprint shaped like the run process captures it (no TensorFlow import needed)."""
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "hash_seed": "0",
            "hash_randomization": True,
        },
        "os": {"system": "Linux", "release": "6.1", "platform": "Linux-6.1-x86_64",
               "machine": "x86_64"},
        "hostname": "test-host",
        "cpu": {"model": "Test CPU 9000", "cores": 8, "isa_flags": ["avx", "avx2", "fma"]},
        "tensorflow": {"version": "2.18.0", "build": {}},
        "packages": {"numpy": "2.0.2", "keras": "3.6.0", "scipy": "1.14.1",
                     "scikit-learn": "1.5.2", "tensorflow": "2.18.0"},
        "distributions": ["keras==3.6.0", "numpy==2.0.2", "tensorflow==2.18.0"],
        "gpu": {"devices": [], "driver": None},
        "env": {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"},
        "onednn": "default (on)",
        "op_determinism": True,
        "threads": {"inter_op": 1, "intra_op": 1},
        "experiment": {"name": "credit_risk_mlp", "version": "1",
                       "entrypoint": "x:y", "source_hash": "ab" * 32},
    }


@dataclass
class AgentDriver:
    """Plays an agent over HTTP: claims the oldest queued run and reports made-up results."""

    http: Http
    headers: dict[str, str] = field(default_factory=dict)
    agent_id: int | None = None

    def _post(self, url: str, payload: dict[str, Any]) -> Any:
        response = self.http.post(url, json=payload, headers=self.headers)
        assert response.status_code in (200, 201, 204), (url, response.status_code, response.text)
        return response

    def register(self) -> int:
        """Register once; returns the agent id."""
        if self.agent_id is None:
            body = self._post("/api/v1/agent/register", {"name": "page-test", "hostname": "t"})
            self.agent_id = int(body.json()["id"])
        return self.agent_id

    def claim(self) -> dict[str, Any]:
        """The next queued run's assignment."""
        response = self._post("/api/v1/agent/claim", {"agent_id": self.register()})
        assert response.status_code == 200, "nothing queued"
        body: dict[str, Any] = response.json()
        return body

    def complete_next(
        self,
        *,
        epochs: int = 6,
        salt: str = "",
        fail: str | None = None,
        traced: bool = False,
        warnings: list[dict[str, str]] | None = None,
        predictions: dict[str, Any] | None = None,
        midway: Callable[[dict[str, Any]], None] | None = None,
        phases: dict[str, float | None] | None = None,
    ) -> dict[str, Any]:
        """Claim, start, log per-epoch points and finish the oldest queued run.

        With midway, the first half of the epochs is logged, midway(assignment) is called (a
        page test watches the run in progress), then the rest is logged and the run finishes.
        """
        a = self.claim()
        run_id, attempt, seed = a["run_id"], a["attempt"], a["seed"]
        jitter = 1e-7 if salt else 0.0
        fingerprint = fake_fingerprint()
        self._post(
            f"/api/v1/agent/runs/{run_id}/started",
            {
                "attempt": attempt,
                "applied_profile": {
                    "seed": seed, "hash_seed": "0", "python_seed": seed, "numpy_seed": seed,
                    "tf_seed": seed, "op_determinism": True, "inter_op_threads": 1,
                    "intra_op_threads": 1, "isolation": "fork", "profile": "full",
                    # What a catalog run says of each control (torch's: not applied).
                    "how": FrameworkSteps(
                        Profile.model_validate(a["profile"]), seed=seed, tensorflow=True
                    ).how(),
                },
                "fingerprint_hash": hashlib.sha256(repr(fingerprint).encode()).hexdigest(),
                "fingerprint": fingerprint,
                "isolation": "fork",
                "isolation_reason": "zygote for this pre-import environment",
            },
        )
        series = [
            {
                "key": m,
                "steps": list(range(1, epochs + 1)),
                "values": [
                    metric_value(seed, m, e, jitter if e > 2 else 0.0) for e in range(1, epochs + 1)
                ],
            }
            for m in METRICS
        ]
        if midway is not None:
            half = max(epochs // 2, 1)
            first = [{**s, "steps": s["steps"][:half], "values": s["values"][:half]}
                     for s in series]
            self._post(
                f"/api/v1/agent/runs/{run_id}/points",
                {"attempt": attempt, "series": first, "epoch": half, "epochs": epochs},
            )
            midway(a)
            rest = [{**s, "steps": s["steps"][half:], "values": s["values"][half:]}
                    for s in series]
            self._post(
                f"/api/v1/agent/runs/{run_id}/points",
                {"attempt": attempt, "series": rest, "epoch": epochs, "epochs": epochs},
            )
        else:
            self._post(
                f"/api/v1/agent/runs/{run_id}/points",
                {"attempt": attempt, "series": series, "epoch": epochs, "epochs": epochs},
            )
        epoch_sums = [checksum(seed, e, salt if e > 2 else "") for e in range(1, epochs + 1)]
        finish: dict[str, Any] = {"attempt": attempt, "status": "succeeded", "seconds": 1.25}
        if fail:
            finish.update(status="failed", error=fail,
                          traceback="Traceback (most recent call last):\n  ...\n" + fail)
        else:
            finish.update(
                final_metrics={s["key"]: s["values"][-1] for s in series},
                weights_checksum=epoch_sums[-1],
                epoch_checksums=epoch_sums,
                trace=fake_trace(seed, epochs, salt, traced=traced),
            )
            if warnings is not None:
                finish["warnings"] = warnings
            if predictions is not None:
                finish["predictions"] = predictions
            if phases is not None:
                finish["phases"] = phases
        self._post(f"/api/v1/agent/runs/{run_id}/finish", finish)
        return a


@dataclass
class Row:
    """One <tr>: its attributes and the text of its cells."""

    attrs: dict[str, str]
    cells: list[str] = field(default_factory=list)


class _TableParser(HTMLParser):
    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id = table_id
        self.depth = 0  # nesting of <table> inside the wanted one
        self.rows: list[Row] = []
        self.cell: list[str] | None = None
        self.in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and (self.depth or a.get("id") == self.table_id):
            self.depth += 1
        elif self.depth and tag == "tbody":
            self.in_body = True
        elif self.depth and self.in_body and tag == "tr":
            self.rows.append(Row(a))
        elif self.depth and self.in_body and tag in ("td", "th") and self.rows:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag in ("td", "th") and self.cell is not None:
            self.rows[-1].cells.append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def table_rows(html: str, table_id: str) -> list[Row]:
    """Body rows of the table with that id."""
    parser = _TableParser(table_id)
    parser.feed(html)
    return parser.rows


def wait_until(page: Any, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is true.

    Not page.wait_for_function: its predicate runs through eval() inside the page, which the
    server's Content-Security-Policy (no 'unsafe-eval') rightly blocks; page.evaluate goes
    through the DevTools protocol instead.
    """
    import time

    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} still false after {timeout} s")
        time.sleep(0.1)
