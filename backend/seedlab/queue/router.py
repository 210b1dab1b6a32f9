"""Agent protocol endpoints: register, claim, heartbeat, started, points, finish."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from seedlab.deps import (
    AgentAuth,
    IdPath,
    ReadSession,
    ScopeDep,
    SettingsDep,
    WriteSession,
    json_body,
    json_body_openapi,
)
from seedlab.queue import service as queue_service
from seedlab.queue.schemas import (
    AgentAdvertisement,
    AgentCredential,
    AgentRead,
    AgentRegister,
    AgentStatus,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    PointsAccepted,
    PointsBatch,
    RunAssignment,
    RunFinished,
    RunStarted,
)


def _credential(request: Request) -> AgentCredential:
    """The credential of an agent call, from the principal the security middleware set."""
    principal = getattr(request.state, "principal", None)
    via = getattr(principal, "via", "anonymous")
    if via == "agent-token":
        return AgentCredential(kind="shared")
    token_id = getattr(principal, "token_id", None)
    if via in ("token", "session") and token_id is not None:
        return AgentCredential(kind="token", token_id=token_id)
    return AgentCredential(kind="anonymous")


Credential = Annotated[AgentCredential, Depends(_credential)]

router = APIRouter(prefix="/api/v1/agent", tags=["agent protocol"], dependencies=[AgentAuth])
public_router = APIRouter(prefix="/api/v1/agents", tags=["agents"])


@router.post("/register", status_code=201)
def register(payload: AgentRegister, session: WriteSession, credential: Credential) -> AgentRead:
    """Register an agent, bound to this call's token; returns its id for later calls."""
    agent = queue_service.register_agent(session=session, payload=payload, credential=credential)
    return AgentRead.model_validate(agent, from_attributes=True)


@router.put("/{agent_id}/advertisement", status_code=204)
def advertise(
    agent_id: IdPath, payload: AgentAdvertisement, session: WriteSession, credential: Credential
) -> None:
    """Replace the agent's advertisement (experiments and sources) after it reloaded them;
    403 for an agent registered with another token."""
    queue_service.advertise(
        session=session, agent_id=agent_id, payload=payload, credential=credential
    )


@router.post(
    "/claim", response_model=RunAssignment, responses={204: {"description": "nothing queued"}}
)
def claim(
    payload: ClaimRequest, session: WriteSession, settings: SettingsDep, credential: Credential
) -> RunAssignment | Response:
    """Lease the oldest queued run to the agent; 204 when the queue is empty; 403 when the
    agent was registered with another token."""
    assignment = queue_service.claim_run(
        session=session, agent_id=payload.agent_id, settings=settings, credential=credential
    )
    return assignment if assignment is not None else Response(status_code=204)


@router.post("/runs/{run_id}/heartbeat")
def heartbeat(
    run_id: IdPath,
    payload: Heartbeat,
    session: WriteSession,
    settings: SettingsDep,
    credential: Credential,
) -> HeartbeatReply:
    """Extend the lease; the reply says whether the run was cancelled. 409 on a stale attempt,
    403 for a run another agent holds."""
    return queue_service.heartbeat(
        session=session, run_id=run_id, payload=payload, settings=settings, credential=credential
    )


@router.post("/runs/{run_id}/started", status_code=204)
def started(
    run_id: IdPath, payload: RunStarted, session: WriteSession, credential: Credential
) -> None:
    """Record the applied profile and fingerprint from inside the run process."""
    queue_service.record_started(
        session=session, run_id=run_id, payload=payload, credential=credential
    )


@router.post("/runs/{run_id}/points", openapi_extra=json_body_openapi(PointsBatch))
def points(
    run_id: IdPath,
    payload: Annotated[PointsBatch, Depends(json_body(PointsBatch))],
    session: WriteSession,
    credential: Credential,
) -> PointsAccepted:
    """Store a batch of metric points in one transaction; acknowledged points are durable."""
    return PointsAccepted(
        accepted=queue_service.ingest_points(
            session=session, run_id=run_id, payload=payload, credential=credential
        )
    )


@router.post("/runs/{run_id}/finish", status_code=204)
def finish(
    run_id: IdPath, payload: RunFinished, session: WriteSession, credential: Credential
) -> None:
    """Close the attempt: succeeded, failed (with traceback) or cancelled; 403 for a run
    another agent holds."""
    queue_service.finish_run(session=session, run_id=run_id, payload=payload, credential=credential)


@public_router.get("")
def list_agents(session: ReadSession, settings: SettingsDep, scope: ScopeDep) -> list[AgentStatus]:
    """Agents the server has seen: online/offline, capabilities, the runs each holds now.

    Host names and pids only for submit and admin scopes: a read token can be handed out
    widely, and must not give a map of the machines.
    """
    agents = queue_service.agent_statuses(session=session, settings=settings)
    if scope == "read":
        return [agent.model_copy(update={"hostname": "", "pid": None}) for agent in agents]
    return agents
