"""The one table of route rules: which credential each path needs, and its body limit.

Every route of the app must match a rule here (tests/security/test_policy.py walks app.routes),
so a new route without a rule fails CI instead of silently inheriting some default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from seedlab.config import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Access(StrEnum):
    """What a path needs."""

    PUBLIC = "public"  # anyone: health, static files, the sign-in page
    PAGE = "page"  # a browser page: a signed-in session when auth is required
    API = "api"  # scope read for GET/HEAD/OPTIONS, submit for anything else
    AGENT = "agent"  # scope agent (or the shared SEEDLAB_AGENT_TOKEN)
    AGENT_READ = "agent_read"  # reads agents need too (dataset content): read scopes or agent
    ADMIN = "admin"  # scope admin


class BodyLimit(StrEnum):
    """Which setting bounds a request body."""

    DEFAULT = "max_body_bytes"
    POINTS = "max_points_body_bytes"
    FINISH = "max_finish_body_bytes"
    ADVERTISEMENT = "max_advertisement_body_bytes"
    # The route streams its body and enforces its own limit (dataset uploads: max_dataset_bytes).
    ROUTE = "route"


@dataclass(frozen=True)
class Rule:
    """A path pattern (anchored regex), what it needs, and its body limit."""

    pattern: str
    access: Access
    body: BodyLimit = BodyLimit.DEFAULT

    def matches(self, path: str) -> bool:
        """Whether the rule covers this path."""
        return re.fullmatch(self.pattern, path) is not None


# First match wins: specific rules before the general ones.
RULES: tuple[Rule, ...] = (
    Rule(r"/api/v1/health", Access.PUBLIC),
    Rule(r"/api/v1/agent/runs/[^/]+/points", Access.AGENT, BodyLimit.POINTS),
    Rule(r"/api/v1/agent/runs/[^/]+/finish", Access.AGENT, BodyLimit.FINISH),
    Rule(r"/api/v1/agent/[^/]+/advertisement", Access.AGENT, BodyLimit.ADVERTISEMENT),
    Rule(r"/api/v1/agent/.*", Access.AGENT),
    Rule(r"/api/v1/tokens(/.*)?", Access.ADMIN),
    Rule(r"/api/v1/datasets/[^/]+/content", Access.AGENT_READ),
    Rule(r"/api/v1/datasets(/.*)?", Access.API, BodyLimit.ROUTE),
    # The long poll of `submit --wait`: a read, held open up to 60 s (no session held).
    Rule(r"/api/v1/jobs/[^/]+/wait", Access.API),
    Rule(r"/api/v1/.*", Access.API),
    Rule(r"/openapi\.json", Access.API),
    # A page: a browser without a session is sent to sign in, then Swagger UI calls with it.
    Rule(r"/docs", Access.PAGE),
    Rule(r"/static/.*", Access.PUBLIC),
    Rule(r"/signin|/signout", Access.PUBLIC),
    Rule(r"/", Access.PAGE),
    Rule(r"/(jobs|runs|compare|experiments|datasets)(/.*)?", Access.PAGE),
)

# Paths no rule names: treated as API paths (deny by default when auth is required).
FALLBACK = Rule(r".*", Access.API)


def rule_for(path: str) -> Rule:
    """The first rule covering path, else the fallback."""
    return next((rule for rule in RULES if rule.matches(path)), FALLBACK)


def allowed_scopes(access: Access, method: str) -> frozenset[str]:
    """Token scopes that may make this call (admin may make every call)."""
    if access is Access.AGENT:
        return frozenset({"agent", "admin"})
    if access is Access.ADMIN:
        return frozenset({"admin"})
    if access is Access.AGENT_READ and method.upper() in SAFE_METHODS:
        return frozenset({"read", "submit", "agent", "admin"})
    if method.upper() in SAFE_METHODS:
        return frozenset({"read", "submit", "admin"})
    return frozenset({"submit", "admin"})


def body_limit(rule: Rule, settings: Settings) -> int | None:
    """The byte limit for a body on this rule; None when the route enforces its own."""
    if rule.body is BodyLimit.ROUTE:
        return None
    limit: int = getattr(settings, rule.body.value)
    return limit
