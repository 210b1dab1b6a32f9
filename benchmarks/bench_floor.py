"""The 10-run reference job as a pipeline sees it (`seedlab submit --wait`) vs the training floor.

Usage: python benchmarks/bench_floor.py [--repeats 3]
The job: `seedlab submit seed_card_mlp --seeds 42:5x2 --profile full --wait --json`, run through
the real CLI as a subprocess, timed from the command's start to its exit, against one server
with two agents whose `full` zygotes are warm. The floor: the same ten build+compile+fit in
plain Keras (the experiment's model, data and fit, without seedlab), over two worker processes
(one per core, five runs each); each worker imports TensorFlow first and times only the
build+compile+fit of each run, and the floor is the slower worker's sum. The two measurements
alternate (their order swaps every repeat) so that load from elsewhere falls on both alike.
Target (issue 23): job / floor <= 1.5, median of 3 repeats; the weights stay bit-identical to a
cold process (benchmarks/reference_mlp.py, one fresh interpreter per run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
from common import REPO, median, report
from tests.livesystem import LiveSystem

EXPERIMENT = "seed_card_mlp"
SEEDS = "42:5x2"
SEED_LIST = [42, 43, 44, 45, 46]
WORKERS = 2
TARGET = 1.5
# As bench_job_vs_cold.py runs its cold processes.
COLD_ENV = {"PYTHONHASHSEED": "0", "TF_CPP_MIN_LOG_LEVEL": "2", "OMP_NUM_THREADS": "1"}


# -- the floor: one worker process, five runs ------------------------------------------------


def worker(seeds: list[int]) -> None:
    """Import TF, say ready, wait for 'go', then time build+compile+fit per seed (JSON out)."""
    import hashlib
    import random

    import numpy as np
    import tensorflow as tf

    # What the `full` profile sets (as benchmarks/reference_mlp.py does), before the runtime starts.
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.experimental.enable_op_determinism()
    import keras

    class EpochTimes(keras.callbacks.Callback):
        """Each epoch's seconds (to compare with the job's steady epoch)."""

        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self._began = 0.0

        def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
            self._began = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.seconds.append(time.perf_counter() - self._began)

    print("ready", flush=True)
    sys.stdin.readline()
    runs = []
    for seed in seeds:
        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)
        # seed_card_mlp's data with its default parameters (experiments/builtin.py).
        x = np.random.rand(100, 10)
        y = np.random.randint(0, 2, (100, 1))
        x_val = np.random.rand(50, 10)
        y_val = np.random.randint(0, 2, (50, 1))
        epochs = EpochTimes()
        started = time.perf_counter()
        model = keras.Sequential(
            [
                keras.Input(shape=(10,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dropout(0.5),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=0.001),
            loss="binary_crossentropy",
            metrics=["accuracy"],
        )
        built = time.perf_counter()
        model.fit(
            x,
            y,
            batch_size=32,
            epochs=2,
            validation_data=(x_val, y_val),
            verbose=0,
            callbacks=[epochs],
        )
        seconds = time.perf_counter() - started
        digest = hashlib.sha256(b"".join(np.asarray(w).tobytes() for w in model.get_weights()))
        runs.append(
            {
                "seed": seed,
                "seconds": seconds,
                "build_compile": built - started,
                "epochs": epochs.seconds,
                "checksum": digest.hexdigest(),
            }
        )
    print(json.dumps(runs), flush=True)


def floor() -> tuple[float, list[dict[str, Any]]]:
    """Two fresh workers, five runs each, started together once both imported TF."""
    # TF's start-up lines go to a file, shown only if a worker fails.
    with tempfile.TemporaryFile(mode="w+") as log:
        per_worker = _floor_workers(log)
    slowest = max(sum(r["seconds"] for r in runs) for runs in per_worker)
    return slowest, [r for runs in per_worker for r in runs]


def _floor_workers(log: IO[str]) -> list[list[dict[str, Any]]]:
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", ",".join(map(str, SEED_LIST))],
            env={**os.environ, **COLD_ENV},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        for _ in range(WORKERS)
    ]

    def failed(what: str) -> SystemExit:
        log.seek(0)
        return SystemExit(f"a floor worker {what}: {log.read()[-3000:]}")

    try:
        for proc in procs:
            assert proc.stdout is not None
            if proc.stdout.readline().strip() != "ready":
                raise failed("did not start")
        for proc in procs:  # both have imported TF: start them together
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        per_worker = []
        for proc in procs:
            out, _ = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise failed(f"exited {proc.returncode}")
            per_worker.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return per_worker


# -- the job, through the CLI ----------------------------------------------------------------


def _seconds(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _epoch(stamp: str) -> float:
    parsed = datetime.fromisoformat(stamp)
    if parsed.tzinfo is None:  # the server stores UTC
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def job(live: LiveSystem) -> dict[str, Any]:
    """`seedlab submit --wait --json`, timed from the command's start to its exit."""
    wall_start = time.time()
    started = time.perf_counter()
    done = live.cli("submit", EXPERIMENT, "--seeds", SEEDS, "--profile", "full", "--wait", "--json")
    elapsed = time.perf_counter() - started
    wall_end = time.time()
    if done.returncode != 0:
        raise SystemExit(f"submit --wait exited {done.returncode}: {done.stderr[-2000:]}")
    job_report = json.loads(done.stdout)
    with httpx.Client(base_url=live.url, timeout=60) as http:
        runs = [http.get(f"/api/v1/runs/{r['id']}").json() for r in job_report["runs"]]
    created = _epoch(job_report["created_at"])
    finished = _epoch(job_report["finished_at"])
    first_claim = min(_epoch(r["started_at"]) for r in runs)
    last_finish = max(_epoch(r["finished_at"]) for r in runs)
    return {
        "wall": elapsed,
        "server": _seconds(job_report["created_at"], job_report["finished_at"]),
        "status": job_report["status"],
        "verdict": job_report["verdict"],
        # Where the wall time goes, from the server's timestamps (same machine clock).
        "cli_to_created": created - wall_start,
        "created_to_first_claim": first_claim - created,
        "claim_to_finish": [_seconds(r["started_at"], r["finished_at"]) for r in runs],
        "run_seconds": [r["seconds"] for r in runs if r.get("seconds") is not None],
        # The second epoch (seedlab's steady seconds per epoch with two epochs).
        "second_epoch": [r["seconds_per_epoch"] for r in runs if r.get("seconds_per_epoch")],
        # Claim to finish less the second epoch: process start, setup, build, first epoch, end.
        "besides_second_epoch": [
            _seconds(r["started_at"], r["finished_at"]) - r["seconds_per_epoch"]
            for r in runs
            if r.get("seconds_per_epoch")
        ],
        "last_finish_to_job_finish": finished - last_finish,
        "job_finish_to_exit": wall_end - finished,
        "checksums": [(r["seed"], r["weights_checksum"]) for r in runs],
    }


def cold_checksum(seed: int) -> str:
    """The weights checksum of one cold process (benchmarks/reference_mlp.py)."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "reference_mlp.py"), str(seed)],
        env={**os.environ, **COLD_ENV},
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def main() -> None:
    """Alternate job and floor, then print medians, the ratio and the checksum checks."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds of quiet before each measurement"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker([int(s) for s in args.worker.split(",")])
        return
    os.environ.pop("SEEDLAB_TOKEN", None)
    load_start = os.getloadavg()
    cold = {SEED_LIST[0]: cold_checksum(SEED_LIST[0])}
    jobs: list[dict[str, Any]] = []
    floors: list[float] = []
    floor_runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        live = LiveSystem(Path(tmp), lease_seconds=60)
        try:
            live.start_server()
            for index in range(WORKERS):
                live.start_agent(f"floor-{index}")  # warms its `full` zygote at start
            # Both zygotes up before anything is timed: one run on each agent.
            warm = live.cli("submit", EXPERIMENT, "--seeds", f"1:{WORKERS}x1", "--wait", "--json")
            if warm.returncode != 0:
                raise SystemExit(f"warm-up job failed: {warm.stderr[-2000:]}\n{live.logs()}")
            for repeat in range(args.repeats):
                order = ("job", "floor") if repeat % 2 == 0 else ("floor", "job")
                for what in order:
                    time.sleep(args.settle)
                    if what == "job":
                        jobs.append(job(live))
                    else:
                        seconds, runs = floor()
                        floors.append(seconds)
                        floor_runs.extend(runs)
        finally:
            live.stop()
    load_end = os.getloadavg()

    walls = [j["wall"] for j in jobs]
    ratio = median(walls) / median(floors)
    by_seed: dict[int, set[str]] = {}
    for j in jobs:
        for seed, checksum in j["checksums"]:
            by_seed.setdefault(seed, set()).add(checksum)
    floor_by_seed: dict[int, set[str]] = {}
    for run in floor_runs:
        floor_by_seed.setdefault(run["seed"], set()).add(run["checksum"])
    one_each = all(len(c) == 1 for c in by_seed.values())
    cold_same = all(by_seed.get(seed) == {checksum} for seed, checksum in cold.items())
    floor_same = floor_by_seed == by_seed
    claims = [s for j in jobs for s in j["claim_to_finish"]]
    run_seconds = [s for j in jobs for s in j["run_seconds"]]
    floor_each = [r["seconds"] for r in floor_runs]
    job_second = [s for j in jobs for s in j["second_epoch"]]
    job_besides = [s for j in jobs for s in j["besides_second_epoch"]]

    def each(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    report(
        f"10-run reference job ({EXPERIMENT}, {SEEDS}, full) through `seedlab submit --wait` vs "
        f"the training floor, {args.repeats} alternated repeats "
        f"({datetime.now().date().isoformat()}, target ratio <= {TARGET})",
        [
            ("load average (1, 5, 15 min) at the start", ", ".join(f"{v:.1f}" for v in load_start)),
            (
                "job, `submit --wait --json`, command start to exit",
                f"median {median(walls):.2f} s ({each(walls)} s)",
            ),
            (
                "floor, 10 build+compile+fit over 2 workers",
                f"median {median(floors):.2f} s ({each(floors)} s)",
            ),
            ("ratio job / floor", f"{ratio:.2f} ({'met' if ratio <= TARGET else 'MISSED'})"),
            (
                "job on the server, creation to finish",
                f"median {median([j['server'] for j in jobs]):.2f} s"
                f" ({each([j['server'] for j in jobs])} s); ratio to floor "
                f"{median([j['server'] for j in jobs]) / median(floors):.2f}",
            ),
            ("job outcome", ", ".join(f"{j['status']}/{j['verdict']}" for j in jobs)),
            (
                "  CLI start to job created (median)",
                f"{median([j['cli_to_created'] for j in jobs]):.3f} s",
            ),
            (
                "  job created to first run claimed (median)",
                f"{median([j['created_to_first_claim'] for j in jobs]):.3f} s",
            ),
            (
                "  run, claim to finish (median, max over all runs)",
                f"{median(claims):.2f} s, {max(claims):.2f} s",
            ),
            (
                "  run, seconds the agent reported (median)",
                f"{median(run_seconds):.2f} s" if run_seconds else "not reported",
            ),
            (
                "  floor, one build+compile+fit (median, max)",
                f"{median(floor_each):.2f} s, {max(floor_each):.2f} s",
            ),
            (
                "  floor: build+compile, first epoch, second epoch (medians)",
                f"{median([r['build_compile'] for r in floor_runs]):.3f} s, "
                f"{median([r['epochs'][0] for r in floor_runs]):.3f} s, "
                f"{median([r['epochs'][1] for r in floor_runs]):.3f} s",
            ),
            (
                "  job: second epoch (median, seedlab's seconds per epoch)",
                f"{median(job_second):.3f} s" if job_second else "not reported",
            ),
            (
                "  per run, all but the second epoch: job (claim to finish) vs floor",
                f"{median(job_besides):.2f} s vs "
                f"{median([r['seconds'] - r['epochs'][1] for r in floor_runs]):.2f} s"
                if job_besides
                else "not reported",
            ),
            (
                "  last run finished to job finished (median)",
                f"{median([j['last_finish_to_job_finish'] for j in jobs]):.3f} s",
            ),
            (
                "  job finished to CLI exit (median)",
                f"{median([j['job_finish_to_exit'] for j in jobs]):.3f} s",
            ),
            ("one weights checksum per seed over all jobs", str(one_each)),
            (f"seed {SEED_LIST[0]} equals a cold process (reference_mlp.py)", str(cold_same)),
            ("floor workers' checksums equal the jobs'", str(floor_same)),
            ("load average (1, 5, 15 min) at the end", ", ".join(f"{v:.1f}" for v in load_end)),
        ],
    )
    if not (one_each and cold_same) or any(j["status"] != "succeeded" for j in jobs):
        sys.exit(1)


if __name__ == "__main__":
    main()
