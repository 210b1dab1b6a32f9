"""The agent protocol, client side: each call sends and reads the schemas the server validates."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from seedlab.agent.client import SeedlabClient
from seedlab.queue.schemas import (
    AgentAdvertisement,
    AgentRead,
    AgentRegister,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    PointsAccepted,
    PointsBatch,
    RunAssignment,
    RunFinished,
    RunStarted,
)

R = TypeVar("R", bound=BaseModel)
PREFIX = "/api/v1/agent"
# How long an agent keeps a finished run's result while the server cannot take it (down, or
# its disk full: 507): the worker holds one result and claims nothing new meanwhile.
KEEP_RESULT_SECONDS = 24 * 3600.0


class AgentApi:
    """Typed calls of the agent endpoints over one SeedlabClient (retries, 409 as StaleAttempt)."""

    def __init__(self, client: SeedlabClient) -> None:
        self.client = client

    def _post(self, path: str, payload: BaseModel, reply: type[R]) -> R | None:
        body = self.client.post(PREFIX + path, payload.model_dump(mode="json", exclude_none=True))
        return None if body is None else reply.model_validate(body)

    def _send(self, path: str, payload: BaseModel) -> None:
        self.client.post(PREFIX + path, payload.model_dump(mode="json", exclude_none=True))

    def register(self, payload: AgentRegister) -> AgentRead:
        """Announce the agent; the server's record of it."""
        reply = self._post("/register", payload, AgentRead)
        assert reply is not None, "register always answers with the agent"
        return reply

    def advertise(self, agent_id: int, payload: AgentAdvertisement) -> None:
        """Replace the agent's advertisement after it reloaded its experiments."""
        self.client.request(
            "PUT",
            f"{PREFIX}/{agent_id}/advertisement",
            json=payload.model_dump(mode="json", exclude_none=True),
        )

    def claim(self, payload: ClaimRequest) -> RunAssignment | None:
        """The next queued run, leased to this agent; None when nothing is queued."""
        return self._post("/claim", payload, RunAssignment)

    def heartbeat(self, run_id: int, payload: Heartbeat) -> HeartbeatReply:
        """Extend the lease; whether the run was cancelled."""
        reply = self._post(f"/runs/{run_id}/heartbeat", payload, HeartbeatReply)
        assert reply is not None, "heartbeat always answers with the lease"
        return reply

    def started(self, run_id: int, payload: RunStarted) -> None:
        """What the run process applied and its fingerprint."""
        self._send(f"/runs/{run_id}/started", payload)

    def points(self, run_id: int, payload: PointsBatch) -> None:
        """A batch of metric points."""
        self._post(f"/runs/{run_id}/points", payload, PointsAccepted)

    def finish(self, run_id: int, payload: RunFinished) -> None:
        """The end of the attempt, retried until the server takes it (KEEP_RESULT_SECONDS)."""
        self.client.post(
            f"{PREFIX}/runs/{run_id}/finish",
            payload.model_dump(mode="json", exclude_none=True),
            retry_for=KEEP_RESULT_SECONDS,
        )
