"""Start the real server and agents as processes for end-to-end and browser tests.

Most end-to-end tests should not start one: the `shared_live` fixture (tests/conftest.py) is one
server and two agents for the whole session. Start a LiveSystem only for settings of your own
(short leases, auth, PostgreSQL, a process to kill, another working directory), and stop it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "e2e-token"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveSystem:
    """A seedlab server process plus agent processes, all talking real HTTP."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        lease_seconds: float = 10.0,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        # Where the processes start: the project file there declares command experiments.
        self.cwd = cwd
        self.env = {
            **os.environ,
            "SEEDLAB_DATA_DIR": str(data_dir),
            "SEEDLAB_AGENT_TOKEN": TOKEN,
            "SEEDLAB_LEASE_SECONDS": str(lease_seconds),
            "SEEDLAB_REAPER_INTERVAL_SECONDS": "1",
            **(extra_env or {}),
        }
        if database_url:
            self.env["SEEDLAB_DATABASE_URL"] = database_url
        self.server: subprocess.Popen[bytes] | None = None
        self.agents: list[subprocess.Popen[bytes]] = []

    def start_server(self) -> None:
        """Start the server and wait until it answers."""
        log = open(self.data_dir / "server.log", "wb")  # noqa: SIM115 - lives with the process
        self.server = subprocess.Popen(
            [sys.executable, "-m", "seedlab.cli", "server", "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"server exited: {(self.data_dir / 'server.log').read_text()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start within 60 s")

    def start_agent(self, name: str, *extra_args: str) -> subprocess.Popen[bytes]:
        """Start one agent process (extra_args go to `seedlab agent`)."""
        log = open(self.data_dir / f"agent-{name}.log", "wb")  # noqa: SIM115
        agent = subprocess.Popen(
            [sys.executable, "-m", "seedlab.cli", "agent", "--server", self.url, "--name", name,
             *extra_args],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.agents.append(agent)
        return agent

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run the seedlab CLI against this server."""
        return subprocess.run(
            [sys.executable, "-m", "seedlab.cli", *args, "--server", self.url],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def logs(self) -> str:
        """Every process log, for failure messages."""
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.data_dir.glob("*.log"))
        )

    def stop(self) -> None:
        """Stop agents, then the server."""
        for proc in [*self.agents, self.server]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in [*self.agents, self.server]:
            if proc is None:
                continue
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
