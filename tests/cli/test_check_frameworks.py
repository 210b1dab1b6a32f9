"""`seedlab check` on a PyTorch command script: judged by what a script can report."""

from __future__ import annotations

from tests.cli.test_check import REPO, _check
from tests.conftest import require_frameworks

require_frameworks()


def test_a_pytorch_script_passes_without_a_data_hash_and_without_ctx_advice() -> None:
    result = _check(REPO / "examples" / "torch_script", "torch_script", "--param", "epochs=1")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ok       run finished: 1 epoch(s)" in out
    assert "ok       metrics reported: accuracy, loss" in out
    assert "ok       weights found: checksum " in out
    # No data hash asked of a script that cannot give one: a note says how one is had.
    assert "info     data hash: not asked: the script used PyTorch, never Keras" in out
    assert "MISSING" not in out
    assert "ctx." not in out
    assert "all 4 checks passed" in out
