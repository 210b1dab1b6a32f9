"""grouped_warnings: one entry per code with its runs, places and distinct messages."""

from __future__ import annotations

from seedlab.analysis.runwarnings import grouped_warnings


def test_one_group_per_code_with_places_and_messages_once() -> None:
    def kernel(layer: str) -> dict[str, str]:
        return {"code": "no_deterministic_gpu_kernel", "where": f"layer {layer}", "message": "m"}

    onednn = {"code": "onednn_enabled", "where": "oneDNN on", "message": "machine"}
    runs = [
        (1, [kernel("a"), kernel("b"), onednn]),
        (2, [kernel("a"), kernel("b"), onednn]),
        (3, []),
    ]
    groups = {g["code"]: g for g in grouped_warnings(runs)}
    assert list(groups) == ["no_deterministic_gpu_kernel", "onednn_enabled"]
    k = groups["no_deterministic_gpu_kernel"]
    assert (k["runs"], k["total"], k["wheres"], k["messages"], k["machine"]) == (
        2, 3, ["layer a", "layer b"], ["m"], False
    )
    assert groups["onednn_enabled"]["machine"] is True
    assert grouped_warnings([]) == []
