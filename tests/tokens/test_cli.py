"""`seedlab token create/list/revoke` on the server's database, used by the CLI with --token
against a live server started with --auth required."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.livesystem import LiveSystem


def _seedlab(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seedlab.cli", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )


def test_token_commands_and_a_server_that_requires_them(tmp_path: Path) -> None:
    system = LiveSystem(tmp_path, extra_env={"SEEDLAB_AUTH": "required"})
    env = system.env
    created = _seedlab(env, "token", "create", "--scope", "submit", "--name", "ci")
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("sl_") and "\n" not in secret  # only the token is printed
    reader = _seedlab(env, "token", "create", "--scope", "read", "--name", "viewer").stdout.strip()
    taken = _seedlab(env, "token", "create", "--scope", "read", "--name", "ci")
    assert taken.returncode == 2 and "named 'ci' exists" in taken.stderr
    bad_scope = _seedlab(env, "token", "create", "--scope", "root", "--name", "x")
    assert bad_scope.returncode == 2 and "read, submit, agent, admin" in bad_scope.stderr

    system.start_server()
    try:
        env_without = {k: v for k, v in env.items() if k != "SEEDLAB_TOKEN"}
        refused = system.cli("experiments")
        assert refused.returncode == 2 and "requires a token" in refused.stderr
        listed = system.cli("experiments", "--token", secret)
        assert listed.returncode == 0, listed.stderr
        # SEEDLAB_TOKEN works as well as --token; a read token cannot submit.
        as_reader = subprocess.run(
            [sys.executable, "-m", "seedlab.cli", "submit", "seed_card_mlp", "--seeds", "1:1x1",
             "--server", system.url],
            env={**env_without, "SEEDLAB_TOKEN": reader}, capture_output=True, text=True,
            timeout=120,
        )
        assert as_reader.returncode == 2 and "'read'" in as_reader.stderr, as_reader.stderr
        # Pages redirect to sign-in; the API answers 401 without a token.
        page = httpx.get(f"{system.url}/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/signin")
        assert httpx.get(f"{system.url}/api/v1/jobs").status_code == 401
        ok = httpx.get(f"{system.url}/api/v1/jobs", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200

        listing = json.loads(_seedlab(env, "token", "list", "--json").stdout)
        by_name = {t["name"]: t for t in listing}
        assert by_name["ci"]["scope"] == "submit" and by_name["ci"]["last_used_at"] is not None
        assert by_name["viewer"]["revoked_at"] is None
        assert all(secret not in json.dumps(t) for t in listing)

        revoked = _seedlab(env, "token", "revoke", "ci")
        assert revoked.returncode == 0 and "revoked token 'ci'" in revoked.stdout
        auth = {"Authorization": f"Bearer {secret}"}
        after = httpx.get(f"{system.url}/api/v1/jobs", headers=auth)
        assert after.status_code == 401
        missing = _seedlab(env, "token", "revoke", "nobody")
        assert missing.returncode == 2 and "no token named" in missing.stderr
    finally:
        system.stop()
    assert os.stat(tmp_path / "session.key").st_mode & 0o777 == 0o600
