"""Capture the environment a run process sees, after its profile was applied (child side)."""

from __future__ import annotations

import hashlib
import inspect
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from typing import Any

from seedlab.fingerprints.canonical import fingerprint_hash

ENV_ALLOWED = re.compile(
    r"^(PYTHONHASHSEED|TF_[A-Z0-9_]+|CUDA_[A-Z0-9_]+|OMP_[A-Z0-9_]+|MKL_[A-Z0-9_]+"
    r"|KMP_[A-Z0-9_]+|XLA_FLAGS|CUBLAS_WORKSPACE_CONFIG)$"
)
SECRET_NAME = re.compile(r"TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH", re.IGNORECASE)
ISA_FLAG = re.compile(r"^(sse4_2|avx|avx2|fma|f16c|avx512\w*|amx\w*|avx_vnni)$")


def environment_variables(environ: dict[str, str] | None = None) -> dict[str, str]:
    """Allow-listed variables that can change numerics; secret-looking values redacted."""
    environ = dict(os.environ) if environ is None else environ
    return {
        name: ("***" if SECRET_NAME.search(name) else value)
        for name, value in sorted(environ.items())
        if ENV_ALLOWED.match(name)
    }


def cpu_info() -> dict[str, Any]:
    """CPU model, logical cores and the ISA flags that change kernels."""
    model, flags = platform.processor() or "unknown", []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name") and model in ("unknown", "", "x86_64"):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags"):
                    flags = sorted(f for f in line.split(":", 1)[1].split() if ISA_FLAG.match(f))
                    break
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "isa_flags": flags}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def distributions() -> list[str]:
    """Every installed distribution as name==version, sorted."""
    seen = {
        f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in metadata.distributions()
    }
    return sorted(seen)


def _nvidia_driver() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def source_hash(entrypoint: str) -> str | None:
    """sha256 of the source of the module that holds the experiment's training function."""
    module_name = entrypoint.split(":", 1)[0]
    module = sys.modules.get(module_name)
    if module is None:
        return None
    try:
        return hashlib.sha256(inspect.getsource(module).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def capture(*, experiment: str, version: str, entrypoint: str) -> tuple[str, dict[str, Any]]:
    """Fingerprint of this process; returns (content hash, data)."""
    import tensorflow as tf

    from seedlab.runner.tfstate import op_determinism_enabled

    try:
        build = {k: str(v) for k, v in tf.sysconfig.get_build_info().items()}
    except Exception:  # build info is missing on some custom builds
        build = {}
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    dists = distributions()
    onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    data: dict[str, Any] = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "hash_seed": os.environ.get("PYTHONHASHSEED"),
            "hash_randomization": bool(sys.flags.hash_randomization),
        },
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "hostname": socket.gethostname(),
        "cpu": cpu_info(),
        "tensorflow": {"version": tf.__version__, "build": build},
        "packages": {
            name: _version(name)
            for name in ("numpy", "keras", "scipy", "scikit-learn", "tensorflow")
        },
        "distributions": dists,
        "distributions_hash": hashlib.sha256("\n".join(dists).encode()).hexdigest(),
        "gpu": {"devices": gpus, "driver": _nvidia_driver()},
        "env": environment_variables(),
        "onednn": "off" if onednn == "0" else ("on" if onednn == "1" else "default (on)"),
        "op_determinism": op_determinism_enabled(),
        "threads": {
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        },
        "experiment": {
            "name": experiment,
            "version": version,
            "entrypoint": entrypoint,
            "source_hash": source_hash(entrypoint),
        },
    }
    return fingerprint_hash(data), data
