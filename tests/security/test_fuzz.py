"""Property-based fuzzing over the app's own /openapi.json (schemathesis, in-process ASGI).

Every operation gets generated inputs, valid and invalid, plus a stateful phase chaining calls;
agent endpoints carry the agent token. No answer may be a 5xx, and every answer must match the
documented status codes, content types and response schemas. A fixed seed keeps runs
reproducible; a small example budget per operation keeps it to a few minutes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import hypothesis
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.db import Database
from seedlab.experiments import service as experiments_service
from seedlab.migrate import upgrade_to_head
from tests.security import fuzz_stats

AGENT_TOKEN = "fuzz-agent-token"
SEED = 20261201
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

_data = Path(tempfile.mkdtemp(prefix="seedlab-fuzz-"))
_settings = Settings(
    data_dir=_data,
    agent_token=AGENT_TOKEN,
    allowed_hosts=["testserver", "localhost"],
    reaper_interval_seconds=3600,
)
_database = Database(_settings.resolved_database_url())
upgrade_to_head(_database.engine)
with _database.write() as _session:
    experiments_service.sync_catalog(session=_session)
app = create_app(_settings, _database)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


def _headers(path: str) -> dict[str, str] | None:
    return {"Authorization": f"Bearer {AGENT_TOKEN}"} if path.startswith("/api/v1/agent/") else None


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
@hypothesis.seed(SEED)
def test_no_5xx_and_every_answer_matches_the_document(case: schemathesis.Case) -> None:
    fuzz_stats.record(case.operation.label)
    case.call_and_validate(headers=_headers(case.path), checks=CHECKS)


StatefulBase = schema.as_state_machine()


class APIWorkflow(StatefulBase):  # type: ignore[misc, valid-type]
    """Chains of calls linked through the ids one answer gives the next."""

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
        """The agent token on agent endpoints."""
        return {"headers": _headers(case.path) or {}}

    def validate_response(self, response, case, **kwargs):  # type: ignore[no-untyped-def]
        """Same checks as the stateless phase."""
        fuzz_stats.record("stateful " + case.operation.label)
        case.validate_response(response, checks=CHECKS)


TestStatefulWorkflow = APIWorkflow.TestCase
TestStatefulWorkflow.settings = hypothesis.settings(
    max_examples=20,
    stateful_step_count=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
