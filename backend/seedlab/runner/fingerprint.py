"""Capture the environment a run process sees, after its profile was applied (child side)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from seedlab.runner.canonical import fingerprint_hash

# TensorFlow's TF_* shares its prefix with Terraform's (TF_VAR_*, TF_CLI_CONFIG_FILE,
# TF_TOKEN_*), which can carry credentials and would change the hash: those are left out.
ENV_ALLOWED = re.compile(
    # The families a profile may set (profiles.ALLOWED_ENV_PATTERN), so every control a profile
    # applies through the environment shows in the fingerprint; Terraform's TF_ names are left
    # out below.
    r"^(PYTHONHASHSEED|TF_[A-Z0-9_]+"
    r"|CUDA_[A-Z0-9_]+|OMP_[A-Z0-9_]+|MKL_[A-Z0-9_]+|KMP_[A-Z0-9_]+|XLA_FLAGS"
    r"|CUBLAS_WORKSPACE_CONFIG)$"
)
TERRAFORM = re.compile(
    r"^TF_(VAR|CLI|TOKEN|LOG|DATA_DIR|WORKSPACE|IN_AUTOMATION|INPUT|PLUGIN"
    r"|REGISTRY|STATE|REATTACH|IGNORE|APPEND_USER_AGENT|SKIP)"
)
SECRET_NAME = re.compile(
    r"TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH|PRIVATE|SESSION|COOKIE", re.IGNORECASE
)
REDACTED = "***"
# The instruction sets that select different CPU kernels (and so round-off).
ISA_FLAG = re.compile(r"^(sse4_2|avx|avx2|fma|avx512\w*|amx\w*)$")
VERSIONED_PACKAGES = (
    "numpy", "keras", "scipy", "scikit-learn", "tensorflow", "torch", "jax", "jaxlib",
)
NO_GPU = "no GPU"


def environment_variables(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Allow-listed variables that can change numerics; secret-looking values redacted."""
    environ = os.environ if environ is None else environ
    return {
        name: (REDACTED if SECRET_NAME.search(name) else value)
        for name, value in sorted(environ.items())
        if ENV_ALLOWED.match(name) and not TERRAFORM.match(name)
    }


@functools.cache
def cpu_info(cpuinfo_path: str = "/proc/cpuinfo") -> dict[str, Any]:
    """CPU model, logical cores and the ISA flags that change kernels."""
    model: str | None = None
    flags: list[str] = []
    try:
        with open(cpuinfo_path, encoding="utf-8") as lines:
            for line in lines:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and model is None:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = sorted(f for f in value.split() if ISA_FLAG.match(f))
                if model is not None and flags:
                    break
    except OSError:
        pass  # not Linux: the platform module is all we have
    return {
        "model": model or platform.processor() or None,
        "cores": os.cpu_count(),
        "isa_flags": flags,
    }


@functools.cache
def package_version(distribution: str) -> str | None:
    """Installed version of a distribution, or None (read once per process image)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def distributions() -> list[str]:
    """Every installed distribution as name==version, sorted (read once per process image)."""
    return sorted(
        {f"{(d.metadata['Name'] or '?').lower()}=={d.version}" for d in metadata.distributions()}
    )


@functools.cache
def nvidia_driver() -> str | None:
    """The NVIDIA driver version when nvidia-smi exists and answers, else None."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0].strip() if out else None


@functools.cache
def gpu_info() -> dict[str, Any]:
    """GPUs, driver and CUDA version, read without any framework: NVML (nvidia-ml-py), else
    nvidia-smi; `{"devices": [], "note": "no GPU"}` where neither finds one."""
    found = _gpu_from_nvml() or _gpu_from_smi()
    if not found or not found.get("devices"):
        return {"devices": [], "driver": None, "cuda_driver": None, "source": None, "note": NO_GPU}
    return found


def _gpu_from_nvml() -> dict[str, Any] | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver, no device: NVML says so by raising
        return None
    try:
        devices = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
            name = pynvml.nvmlDeviceGetName(handle)
            devices.append(
                {
                    "name": name.decode() if isinstance(name, bytes) else str(name),
                    "compute_capability": f"{major}.{minor}",
                    "memory_mib": int(pynvml.nvmlDeviceGetMemoryInfo(handle).total) // 2**20,
                }
            )
        driver = pynvml.nvmlSystemGetDriverVersion()
        cuda = pynvml.nvmlSystemGetCudaDriverVersion()
        return {
            "devices": devices,
            "driver": driver.decode() if isinstance(driver, bytes) else str(driver),
            "cuda_driver": f"{cuda // 1000}.{cuda % 1000 // 10}",
            "source": "nvml",
        }
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _gpu_from_smi() -> dict[str, Any] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            [
                "nvidia-smi",
                "--query-gpu=name,compute_cap,memory.total,driver_version",
                "--format=csv,noheader,nounits",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    devices, driver = [], None
    for line in out.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 4:
            continue
        name, capability, memory, driver = parts
        devices.append(
            {
                "name": name,
                "compute_capability": capability,
                "memory_mib": int(memory) if memory.isdigit() else None,
            }
        )
    return {"devices": devices, "driver": driver, "cuda_driver": None, "source": "nvidia-smi"}


def frameworks_state() -> dict[str, Any]:
    """PyTorch's and JAX's versions and determinism flags, for those this process imported
    (a framework is never imported here just to be described)."""
    state: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            state["torch"] = {
                "version": torch.__version__,
                "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version() if torch.cuda.is_available() else None,
                "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
                "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
                "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
                "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
                "threads": torch.get_num_threads(),
                "interop_threads": torch.get_num_interop_threads(),
            }
    jax = sys.modules.get("jax")
    if jax is not None:
        with contextlib.suppress(Exception):
            state["jax"] = {
                "version": jax.__version__,
                "backend": jax.default_backend(),
                "devices": sorted({d.device_kind for d in jax.devices()}),
                "xla_flags": os.environ.get("XLA_FLAGS"),
            }
    keras = sys.modules.get("keras")
    if keras is not None:
        with contextlib.suppress(Exception):
            state["keras"] = {"backend": keras.backend.backend()}
    return state


@functools.cache
def tensorflow_build_info() -> dict[str, Any]:
    """TensorFlow's build information (read once per process image)."""
    import tensorflow as tf

    try:
        info: dict[str, Any] = jsonable(dict(tf.sysconfig.get_build_info()))
    except Exception:  # some custom builds lack build info; the fingerprint still has the rest
        info = {}
    return info


def source_hash(entrypoint: str) -> str | None:
    """sha256 of the source file of the module that holds the experiment's training function."""
    module = importlib.import_module(entrypoint.partition(":")[0])
    path = getattr(module, "__file__", None)
    if not path:
        return None
    with open(path, "rb") as source:
        return hashlib.sha256(source.read()).hexdigest()


def jsonable(value: Any) -> Any:
    """The value with every leaf JSON can carry kept and anything else turned into a string."""
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def capture(
    *,
    experiment: str,
    version: str,
    entrypoint: str,
    source_digest: str | None = None,
    tensorflow: bool = True,
    ray: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """Fingerprint of this process; returns (content hash, data).

    source_digest replaces the entrypoint module's hash when the code is not a module (a
    command experiment's project sources). tensorflow=False: a script that never imported TF
    (TF cannot be imported at interpreter exit), so TF's runtime state is recorded as absent.
    ray: the Ray node the run executed on (version, node id, host); absent for local runs.
    """
    installed = distributions()
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
            "version": platform.version(),
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "hostname": socket.gethostname(),
        "cpu": cpu_info(),
        "tensorflow": None,
        "packages": {name: package_version(name) for name in VERSIONED_PACKAGES},
        "distributions": installed,
        "distributions_hash": hashlib.sha256("\n".join(installed).encode()).hexdigest(),
        "gpu": gpu_info(),
        "frameworks": frameworks_state(),
        "env": environment_variables(),
        "onednn": "TensorFlow not imported",
        "op_determinism": None,
        "threads": {"inter_op": None, "intra_op": None},
        "experiment": {
            "name": experiment,
            "version": version,
            "entrypoint": entrypoint,
            "source_hash": source_digest or source_hash(entrypoint),
        },
    }
    if ray is not None:
        data["ray"] = ray
    if tensorflow:
        data.update(_tensorflow_state())
    return fingerprint_hash(data), data


def _tensorflow_state() -> dict[str, Any]:
    """The fingerprint fields read from TensorFlow's runtime."""
    import tensorflow as tf

    from seedlab.runner.setup import onednn_state
    from seedlab.runner.tfstate import op_determinism_enabled

    return {
        "tensorflow": {"version": tf.__version__, "build": dict(tensorflow_build_info())},
        "gpu": {
            **gpu_info(),
            "tensorflow_devices": [
                device.name for device in tf.config.list_physical_devices("GPU")
            ],
        },
        "onednn": onednn_state(),
        "op_determinism": op_determinism_enabled(),
        "threads": {
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
        },
    }


def warm_static_fields() -> None:
    """Read the fields that cannot change while a process image lives (zygote, before forks)."""
    # Installed packages, CPU, driver and TF build are fixed for the zygote's lifetime; its
    # children then share the answer instead of spending ~0.2 s each rescanning site-packages.
    distributions()
    for name in VERSIONED_PACKAGES:
        package_version(name)
    tensorflow_build_info()
    cpu_info()
    nvidia_driver()
    gpu_info()
