"""What the portability inspection costs per run, timed inside the run process.

Usage: python benchmarks/bench_portability.py [--repeats 3]
Runs each built-in with a Keras fit (and the test probes with a trap) forked from a warm `full`
zygote and reads `inspection_seconds` from the done event: the time to walk the model's layers,
the traced train step's graph and the tf.data pipeline after each fit. Target: under 50 ms.
"""

from __future__ import annotations

import argparse
import os

from common import REPO, median, report
from tests.runner.support import SMALL_PARAMS, run, spec

from seedlab.experiments.catalog import MODULES_ENV
from seedlab.runner.launcher import Launcher

PROBES = ("clean", "resize_nearest", "parallel_interleave", "xla_function")


def main() -> None:
    """Time the inspection over a few runs of each experiment."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "backend")]),
        MODULES_ENV: "tests.portability_experiments",
    }
    launcher = Launcher(base_env=env)
    cases = [(name, params) for name, params in SMALL_PARAMS.items()]
    cases += [("portability_probe", {"trap": trap}) for trap in PROBES]
    rows = []
    try:
        for name, params in cases:
            seconds, epochs = [], []
            for repeat in range(args.repeats):
                done = run(launcher, spec(name, seed=42 + repeat, params=params)).done
                seconds.append(done["inspection_seconds"])
                epochs.append(done["seconds_per_epoch"])
            label = name + (f" ({params['trap']})" if "trap" in params else "")
            rows.append(
                (
                    label,
                    f"median {median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms "
                    f"(an epoch: {median(epochs) * 1000:.0f} ms)",
                )
            )
    finally:
        launcher.close()
    report(f"portability inspection per run, {args.repeats} runs each, profile full", rows)


if __name__ == "__main__":
    main()
