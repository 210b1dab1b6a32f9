"""Token management endpoints (scope admin)."""

from __future__ import annotations

from fastapi import APIRouter

from seedlab.deps import ReadSession, WriteSession
from seedlab.tokens import service as tokens_service
from seedlab.tokens.schemas import TokenCreate, TokenCreated, TokenRead

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


@router.get("")
def list_tokens(session: ReadSession) -> list[TokenRead]:
    """Every token (never the secrets), revoked ones included."""
    return tokens_service.list_tokens(session=session)


@router.post("", status_code=201)
def create_token(payload: TokenCreate, session: WriteSession) -> TokenCreated:
    """Create a token; the secret is in this answer only."""
    return tokens_service.create_token(session=session, name=payload.name, scope=payload.scope)


@router.post("/{name_or_id}/revoke")
def revoke_token(name_or_id: str, session: WriteSession) -> TokenRead:
    """Revoke a token by name or id."""
    return tokens_service.revoke_token(session=session, name_or_id=name_or_id)
