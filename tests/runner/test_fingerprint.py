"""Fingerprints: content hash, redaction, CPU parsing, and the fields a real run captures."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from seedlab.experiments.catalog import BUILTIN_VERSION
from seedlab.runner.canonical import fingerprint_hash
from seedlab.runner.fingerprint import cpu_info, environment_variables, jsonable
from tests.runner.conftest import RunKey
from tests.runner.support import RunResult


def test_hash_is_stable_for_identical_data_whatever_the_key_order() -> None:
    data = {"b": [1, 2, {"z": None, "a": True}], "a": {"y": 1.5, "x": "é"}}
    reordered = {"a": {"x": "é", "y": 1.5}, "b": [1, 2, {"a": True, "z": None}]}
    assert fingerprint_hash(data) == fingerprint_hash(reordered)
    assert fingerprint_hash(data) == fingerprint_hash(dict(data))
    assert len(fingerprint_hash(data)) == 64
    assert fingerprint_hash(data) != fingerprint_hash({**data, "c": 0})
    assert fingerprint_hash({"k": [1, 2]}) != fingerprint_hash({"k": [2, 1]})


def test_hash_is_the_sha256_of_the_canonical_json() -> None:
    canonical = '{"a":1,"b":[true,null]}'
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert fingerprint_hash({"b": [True, None], "a": 1}) == expected


def test_environment_is_allow_listed_and_secrets_redacted() -> None:
    """Only variables that can change training are recorded; secret-looking values redacted."""
    env = environment_variables(
        {
            "PYTHONHASHSEED": "0",
            "TF_ENABLE_ONEDNN_OPTS": "0",
            "TF_GPU_ALLOCATOR_KEY": "abc",
            # Terraform's variables share the TF_ prefix and can carry credentials.
            "TF_VAR_db_password": "hunter2",
            "TF_CLI_CONFIG_FILE": "/home/me/.terraformrc",
            "TF_TOKEN_app_terraform_io": "abc",
            "TF_LOG": "DEBUG",
            "TF_WORKSPACE": "prod",
            "CUDA_API_KEY": "abc",
            "OMP_NUM_THREADS": "1",
            "XLA_FLAGS": "--xla_cpu_fast_math",
            "KMP_Password_hint": "abc",
            "HOME": "/root",
            "AWS_SECRET_ACCESS_KEY": "abc",
            "SEEDLAB_AGENT_TOKEN": "abc",
        }
    )
    assert env == {
        "CUDA_API_KEY": "***",
        "OMP_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "TF_ENABLE_ONEDNN_OPTS": "0",
        "TF_GPU_ALLOCATOR_KEY": "***",
        "XLA_FLAGS": "--xla_cpu_fast_math",
    }


def test_cpu_info_reads_model_and_isa_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Example CPU @ 3.00GHz\n"
        "flags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni amx_tile ht\n\n"
        "processor\t: 1\nmodel name\t: Example CPU @ 3.00GHz\n"
    )
    info = cpu_info(str(cpuinfo))
    assert info["model"] == "Example CPU @ 3.00GHz"
    expected = ["amx_tile", "avx", "avx2", "avx512_vnni", "avx512f", "fma", "sse4_2"]
    assert info["isa_flags"] == expected
    assert isinstance(info["cores"], int) and info["cores"] >= 1


def test_jsonable_keeps_json_leaves_and_stringifies_the_rest() -> None:
    assert jsonable({"a": (1, 2.5, None, True), 3: Path("/x")}) == {
        "a": [1, 2.5, None, True],
        "3": "/x",
    }


def test_launcher_and_canonical_hash_do_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "import seedlab.runner.launcher, seedlab.runner.canonical\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]", result.stderr


@pytest.mark.tf
def test_a_real_fingerprint_has_every_required_field(full_runs: dict[RunKey, RunResult]) -> None:
    event = full_runs[("seed_card_mlp", "fork", 42, 0)].fingerprint
    data = event["data"]
    assert event["hash"] == fingerprint_hash(data)
    python = data["python"]
    assert python["version"].count(".") == 2 and python["implementation"] == "CPython"
    assert python["hash_seed"] == "0" and python["hash_randomization"] is False
    assert {"system", "release", "platform", "machine"} <= set(data["os"])
    assert data["hostname"]
    assert data["cpu"]["cores"] >= 1 and "model" in data["cpu"]
    assert isinstance(data["cpu"]["isa_flags"], list)
    assert data["tensorflow"]["version"] and isinstance(data["tensorflow"]["build"], dict)
    for package in ("numpy", "keras", "scipy", "scikit-learn", "tensorflow"):
        assert data["packages"][package], package
    distributions = data["distributions"]
    assert distributions == sorted(distributions)
    assert any(d.startswith("tensorflow==") for d in distributions)
    expected = hashlib.sha256("\n".join(distributions).encode()).hexdigest()
    assert data["distributions_hash"] == expected
    assert isinstance(data["gpu"]["devices"], list) and "driver" in data["gpu"]
    assert data["env"]["PYTHONHASHSEED"] == "0" and data["env"]["OMP_NUM_THREADS"] == "1"
    assert data["onednn"].split(" ")[0] in ("on", "off")
    assert data["op_determinism"] is True
    assert data["threads"] == {"inter_op": 1, "intra_op": 1}
    builtin = importlib.util.find_spec("seedlab.experiments.builtin")  # no TF import here
    assert builtin is not None and builtin.origin is not None
    source = Path(builtin.origin).read_bytes()
    assert data["experiment"] == {
        "name": "seed_card_mlp",
        "version": BUILTIN_VERSION,
        "entrypoint": "seedlab.experiments.builtin:train_seed_card_mlp",
        "source_hash": hashlib.sha256(source).hexdigest(),
    }
    assert data["data_hash"] == full_runs[("seed_card_mlp", "fork", 42, 0)].done["data_hash"]
