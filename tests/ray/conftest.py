"""One real two-node Ray cluster per session, in a network namespace with only loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import skip_or_fail
from tests.raycluster import RayCluster, ray_unavailable


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """Head and second node with one CPU each: two runs in flight, one on each node."""
    reason = ray_unavailable()
    if reason is not None:
        skip_or_fail("SEEDLAB_REQUIRE_RAY", f"Ray cluster tests cannot run: {reason}")
    cluster = RayCluster(head_cpus=1, node_cpus=1).start()
    yield cluster
    cluster.stop()
