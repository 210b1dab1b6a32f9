"""The shared test factory: jobs, agents, claims and finishes on a real database; fingerprints
and applied profiles shaped like the run process records them; RunData for the pure analysis."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from seedlab.analysis.types import RunData
from seedlab.config import Settings
from seedlab.db import Database, utcnow
from seedlab.fingerprints.models import Fingerprint
from seedlab.jobs import creation
from seedlab.jobs.schemas import JobCreate
from seedlab.queue import service as queue_service
from seedlab.queue.schemas import AgentRegister, RunAssignment, RunFinished
from seedlab.runner.canonical import fingerprint_hash
from seedlab.runs.models import Run

# ---- jobs and the queue, through the services the API calls ----


def create_job(
    database: Database,
    settings: Settings,
    seeds: str = "1:2x1",
    *,
    experiment: str = "seed_card_mlp",
    **payload: Any,
) -> tuple[int, list[int]]:
    """A new job's id and its run ids, in creation order."""
    with database.write() as session:
        job = creation.create_job(
            session=session,
            payload=JobCreate(experiment=experiment, seeds=seeds, **payload),
            settings=settings,
        )
        return job.id, [run.id for run in job.runs]


def register_agent(database: Database, name: str = "a", **capabilities: Any) -> int:
    """A registered agent's id; capabilities are AgentRegister's cpus, gpus, labels."""
    with database.write() as session:
        return queue_service.register_agent(
            session=session, payload=AgentRegister(name=name, hostname="test", **capabilities)
        ).id


def claim(database: Database, settings: Settings, agent_id: int) -> RunAssignment | None:
    """The run the agent claims next, or None when the queue is empty."""
    with database.write() as session:
        return queue_service.claim_run(session=session, agent_id=agent_id, settings=settings)


def finish(
    database: Database,
    run_id: int,
    attempt: int,
    status: str = "succeeded",
    final_metrics: dict[str, float] | None = None,
) -> None:
    """End the attempt as the agent does (final loss 0.5 unless given)."""
    with database.write() as session:
        queue_service.finish_run(
            session=session,
            run_id=run_id,
            payload=RunFinished(
                attempt=attempt,
                status=status,
                final_metrics={"loss": 0.5} if final_metrics is None else final_metrics,
            ),
        )


def expire_all_leases(database: Database) -> list[int]:
    """Reap every lease as if an hour had passed; the requeued or failed run ids."""
    with database.write() as session:
        return queue_service.reap_expired_leases(session=session, now=utcnow() + timedelta(hours=1))


# ---- fingerprints and applied profiles ----

BASE: dict[str, Any] = {
    "python": {
        "version": "3.11.7",
        "implementation": "CPython",
        "hash_seed": "0",
        "hash_randomization": True,
    },
    "os": {"system": "Linux", "release": "6.1.0", "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
           "machine": "x86_64"},
    "hostname": "worker-1",
    "cpu": {"model": "Test CPU 9000", "cores": 8, "isa_flags": ["avx", "avx2", "fma"]},
    "tensorflow": {"version": "2.18.0", "build": {"cuda_version": "12.5", "cudnn_version": "9"}},
    "packages": {"numpy": "2.0.2", "keras": "3.6.0", "scipy": "1.14.1",
                 "scikit-learn": "1.5.2", "tensorflow": "2.18.0"},
    "distributions": ["keras==3.6.0", "ml-dtypes==0.4.1", "numpy==2.0.2", "tensorflow==2.18.0"],
    "distributions_hash": "d" * 64,
    "gpu": {"devices": [], "driver": None},
    "env": {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"},
    "onednn": "default (on)",
    "op_determinism": True,
    "threads": {"inter_op": 1, "intra_op": 1},
    "experiment": {"name": "seed_card_mlp", "version": "1", "entrypoint": "x:y",
                   "source_hash": "ab" * 32},
    "data_hash": "cd" * 32,
}

APPLIED: dict[str, Any] = {
    "seed": 1,
    "hash_seed": "0",
    "hash_randomization": True,
    "python_seed": 1,
    "numpy_seed": 1,
    "tf_seed": 1,
    "tf_data_seed": 1,
    "op_determinism": True,
    "inter_op_threads": 1,
    "intra_op_threads": 1,
    "onednn": "default",
    "omp_num_threads": "1",
    "isolation": "fork",
    "profile": "full",
}


REMOVE = object()


def fingerprint(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A copy of BASE with dotted fields set ("cpu.model"), or dropped when the value is REMOVE."""
    data = copy.deepcopy(BASE)
    for dotted, value in (changes or {}).items():
        *parents, leaf = dotted.split(".")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is REMOVE:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return data


def applied(seed: int = 1, **changes: Any) -> dict[str, Any]:
    """The applied 'full' profile of a run with that seed."""
    seeded = {k: seed for k in ("seed", "python_seed", "numpy_seed", "tf_seed", "tf_data_seed")}
    return {**APPLIED, **seeded, **changes}


# Another host with oneDNN off and one package swapped for another.
OTHER = fingerprint({
    "onednn": "off",
    "env.TF_ENABLE_ONEDNN_OPTS": "0",
    "hostname": "worker-2",
    "distributions": ["keras==3.6.0", "numpy==2.0.2", "tensorflow==2.18.0", "tf-keras==2.18.0"],
})


def start_run(database: Database, run_id: int, data: dict[str, Any], **toggles: Any) -> None:
    """Record a fingerprint and an applied profile for the run, as the agent protocol does."""
    digest = fingerprint_hash(data)
    with database.write() as session:
        if session.get(Fingerprint, digest) is None:
            session.add(Fingerprint(hash=digest, data=data))
            session.flush()
        run = session.get(Run, run_id)
        assert run is not None
        run.fingerprint_hash = digest
        run.applied_profile = applied(run.seed, **toggles)


# ---- plain data for the pure analysis ----


def make_run(
    run_id: int,
    seed: int,
    repeat: int = 0,
    *,
    status: str = "succeeded",
    final: dict[str, float] | None = None,
    weights: str | None = "w",
    epochs: list[str] | None = None,
    curves: dict[str, list[tuple[int, float]]] | None = None,
) -> RunData:
    """A run with sensible defaults: succeeded, checksum "w", no epochs, no curves."""
    return RunData(
        run_id=run_id,
        seed=seed,
        repeat=repeat,
        status=status,
        final_metrics=dict(final or {}),
        weights_checksum=weights,
        epoch_checksums=list(epochs or []),
        curves=dict(curves or {}),
    )
