"""`seedlab agent` capability options: --gpus, --concurrency, --label are checked before the
agent contacts anything."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from seedlab.cli import app
from seedlab.cli.serving import parse_gpus


def test_gpus_parse_to_distinct_indices() -> None:
    assert parse_gpus("0,1, 3") == [0, 1, 3]
    assert parse_gpus(None) == [] and parse_gpus("") == []
    for bad in ("0,x", "1,1", "-1"):
        with pytest.raises(typer.BadParameter, match=r"e\.g\. 0,1"):
            parse_gpus(bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gpus", "zero"], "comma-separated GPU indices"),
        (["--concurrency", "3", "--gpus", "0,1"], "needs at least 3 GPUs"),
        (["--concurrency", "0"], "--concurrency"),
    ],
)
def test_bad_capabilities_exit_2_naming_the_problem(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["agent", "--server", "http://127.0.0.1:9", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
