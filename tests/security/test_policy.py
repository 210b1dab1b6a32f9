"""Every route of the app is named by a rule of the security policy."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from seedlab.app import create_app
from seedlab.config import Settings
from seedlab.security.policy import RULES, Access, BodyLimit, allowed_scopes, rule_for


def _sample_path(template: str) -> str:
    # /api/v1/jobs/{job_id}/runs -> /api/v1/jobs/1/runs; {name:path} -> a/b
    return re.sub(r"\{[^}:]+(:path)?\}", lambda m: "a/b" if m[1] else "1", template)


def test_every_route_matches_a_named_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path))
    uncovered = []
    paths = []
    for route in app.routes:
        if isinstance(route, APIRoute | Route | Mount):
            path = _sample_path(route.path)
            paths.append(path)
            if not any(rule.matches(path) for rule in RULES):
                uncovered.append(route.path)
    assert paths, "no routes found"
    assert not uncovered, f"routes without a rule in seedlab/security/policy.py: {uncovered}"


def test_agent_paths_need_agent_scope_and_others_read_or_submit() -> None:
    assert rule_for("/api/v1/agent/claim").access is Access.AGENT
    assert rule_for("/api/v1/agents").access is Access.API  # the public agents list
    assert rule_for("/api/v1/tokens").access is Access.ADMIN
    assert rule_for("/jobs/3").access is Access.PAGE
    assert rule_for("/api/v1/health").access is Access.PUBLIC
    assert rule_for("/api/v1/agent/runs/4/points").body is BodyLimit.POINTS
    assert rule_for("/api/v1/datasets").body is BodyLimit.ROUTE
    assert rule_for("/api/v1/agent/3/advertisement").body is BodyLimit.ADVERTISEMENT
    assert rule_for("/not/a/rule").access is Access.API  # deny by default
    assert allowed_scopes(Access.API, "GET") == {"read", "submit", "admin"}
    assert allowed_scopes(Access.API, "POST") == {"submit", "admin"}
    assert "agent" not in allowed_scopes(Access.API, "GET")
    # Agents download the data sets their runs use.
    content = rule_for("/api/v1/datasets/" + "a" * 64 + "/content")
    assert "agent" in allowed_scopes(content.access, "GET")
    assert "agent" not in allowed_scopes(content.access, "POST")
