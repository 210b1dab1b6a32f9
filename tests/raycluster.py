"""A real two-node Ray cluster for tests and benchmarks, in a network namespace of its own.

Outside a namespace Ray talks over the machine's external interface, which tests must not do;
inside `unshare --net` with only loopback up it binds 127.0.0.1. `--pid --fork --kill-child
--mount-proc` put every Ray process in a PID namespace that dies with the cluster.

The namespace's first process is this module run with `--inside`: it starts the head and a
second node, relays 127.0.0.1:INSIDE_PORT (its loopback) to a Unix socket that the test
process relays on to the seedlab server on the real loopback, and then obeys JSON commands on
stdin (start a process, signal it, kill or restart the second node). Needs root.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
# The seedlab server as processes inside the namespace see it.
INSIDE_PORT = 8765
INSIDE_SERVER = f"http://127.0.0.1:{INSIDE_PORT}"
RAY_PORT = 6390
START_TIMEOUT = 180.0


def ray_unavailable() -> str | None:
    """Why a namespaced Ray cluster cannot start here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root for `unshare --net --pid` (network namespace with only loopback)"
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs util-linux's unshare and iproute2's ip"
    try:
        import ray  # noqa: F401
    except ImportError:
        return "Ray is not installed (pip install 'seedlab[ray]')"
    return None


def _pipe(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes one way until either side closes."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            target.sendall(data)
    for sock in (source, target):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def relay(listener: socket.socket, connect: Callable[[], socket.socket]) -> threading.Thread:
    """Forward every connection accepted on `listener` to a fresh `connect()`, both ways."""

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                upstream = connect()
            except OSError:
                client.close()
                continue
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, target), daemon=True).start()

    thread = threading.Thread(target=serve, name="relay", daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------- inside the namespace


class _Inside:
    """The namespace's first process: the cluster, the relay and the command loop."""

    def __init__(self, socket_path: str, temp_dir: str, head_cpus: int, node_cpus: int) -> None:
        self.socket_path = socket_path
        self.temp_dir = temp_dir
        self.head_cpus = head_cpus
        self.node_cpus = node_cpus
        self.ray = str(Path(sys.executable).with_name("ray"))
        self.node: subprocess.Popen[bytes] | None = None
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        # Ray 2.60 turns on token authentication when a token file exists in ~/.ray, which
        # other Ray use on the machine may have left; this cluster is reachable only on the
        # namespace's own loopback, so every process in it runs without, whatever the machine has.
        os.environ["RAY_AUTH_MODE"] = "disabled"
        subprocess.run(
            [
                self.ray, "start", "--head", "--node-ip-address=127.0.0.1",
                f"--port={RAY_PORT}", f"--num-cpus={self.head_cpus}",
                "--include-dashboard=false", "--disable-usage-stats",
                f"--temp-dir={self.temp_dir}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.start_node()
        listener = socket.create_server(("127.0.0.1", INSIDE_PORT))
        relay(listener, self._to_outside)

    def _to_outside(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.socket_path)
        return sock

    def start_node(self) -> None:
        """The second node, in a session of its own so that kill_node takes all of it."""
        log = open(Path(self.temp_dir) / "node.log", "ab")  # noqa: SIM115 - the node's output
        self.node = subprocess.Popen(
            [
                self.ray, "start", f"--address=127.0.0.1:{RAY_PORT}",
                "--node-ip-address=127.0.0.1", f"--num-cpus={self.node_cpus}",
                "--disable-usage-stats", "--block",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.wait_for_cpus(self.head_cpus + self.node_cpus)

    def wait_for_cpus(self, cpus: int) -> None:
        """Until the cluster counts this many CPUs (both nodes joined)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            status = subprocess.run(
                [self.ray, "status", f"--address=127.0.0.1:{RAY_PORT}"],
                capture_output=True,
                text=True,
            )
            if f"/{float(cpus)} CPU" in status.stdout:
                return
            time.sleep(1)
        raise RuntimeError(f"the Ray cluster did not reach {cpus} CPUs: {status.stdout}")

    def kill_node(self) -> None:
        """SIGKILL the second node and everything it started (its raylet and workers)."""
        assert self.node is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.node.pid, signal.SIGKILL)
        self.node.wait()
        # Its workers run in the raylet's session; take whatever is left of that node.
        subprocess.run(["pkill", "-KILL", "-s", str(self.node.pid)], check=False)

    def node_pids(self) -> list[int]:
        """The processes of the second node (its raylet and the workers it started)."""
        assert self.node is not None
        found = subprocess.run(["pgrep", "-s", str(self.node.pid)], capture_output=True, text=True)
        return [int(pid) for pid in found.stdout.split()]

    def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        action = command["cmd"]
        if action == "run":
            log = open(command["log"], "ab")  # noqa: SIM115 - the process's output
            proc = subprocess.Popen(
                command["argv"],
                env={**os.environ, **command.get("env", {})},
                cwd=command.get("cwd"),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes[proc.pid] = proc
            return {"pid": proc.pid}
        if action == "signal":
            proc = self.processes[command["pid"]]
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, command["signal"])
            return {"ok": True}
        if action == "wait":
            proc = self.processes[command["pid"]]
            try:
                return {"code": proc.wait(timeout=command.get("timeout", 60))}
            except subprocess.TimeoutExpired:
                return {"code": None}
        if action == "kill_node":
            self.kill_node()
            return {"ok": True}
        if action == "start_node":
            self.start_node()
            return {"ok": True}
        if action == "node_pids":
            return {"pids": self.node_pids()}
        if action == "cpus":
            self.wait_for_cpus(command["cpus"])
            return {"ok": True}
        if action == "status":
            status = subprocess.run(
                [self.ray, "status", f"--address=127.0.0.1:{RAY_PORT}"],
                capture_output=True,
                text=True,
            )
            return {"status": status.stdout}
        raise ValueError(f"unknown command {action!r}")

    def stop(self) -> None:
        for proc in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run([self.ray, "stop", "--force"], capture_output=True, check=False)


def inside(args: argparse.Namespace) -> None:
    """Main of the namespace's first process."""
    cluster = _Inside(args.socket, args.temp_dir, args.head_cpus, args.node_cpus)
    # The first process of a PID namespace ignores signals it has no handler for.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    out = sys.stdout
    try:
        cluster.start()
        out.write(json.dumps({"ready": True, "ray_address": f"127.0.0.1:{RAY_PORT}"}) + "\n")
        out.flush()
        for line in sys.stdin:
            try:
                reply = cluster.handle(json.loads(line))
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            out.write(json.dumps(reply) + "\n")
            out.flush()
    finally:
        cluster.stop()


# ---------------------------------------------------------------- outside (the test process)


class RayCluster:
    """Handle on a namespaced two-node Ray cluster; `server_port` is where the relay leads."""

    def __init__(self, *, head_cpus: int = 1, node_cpus: int = 1) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="slray-"))  # short: Ray's socket paths
        self.socket_path = str(self.work / "server.sock")
        self.server_port: int | None = None
        self.head_cpus = head_cpus
        self.node_cpus = node_cpus
        self.address = ""
        self._listener: socket.socket | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _to_server(self) -> socket.socket:
        if self.server_port is None:
            raise OSError("no seedlab server behind the relay")
        return socket.create_connection(("127.0.0.1", self.server_port))

    def start(self) -> RayCluster:
        """Start the namespace, the two nodes and the relay; returns when both nodes joined."""
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.socket_path)
        self._listener.listen(64)
        relay(self._listener, self._to_server)
        self._proc = subprocess.Popen(
            [
                "unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
                sys.executable, "-m", "tests.raycluster", "--inside",
                "--socket", self.socket_path, "--temp-dir", str(self.work / "ray"),
                "--head-cpus", str(self.head_cpus), "--node-cpus", str(self.node_cpus),
            ],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(self.work / "inside.log", "wb"),  # noqa: SIM115
            text=True,
        )  # fmt: skip
        ready = self._read(self._proc.stdout)
        if not ready.get("ready"):
            self.stop()
            raise RuntimeError(f"Ray cluster did not start: {self.log()}")
        self.address = ready["ray_address"]
        return self

    @staticmethod
    def _read(stream: IO[str] | None) -> dict[str, Any]:
        assert stream is not None
        line = stream.readline()
        return json.loads(line) if line else {}

    def command(self, **command: Any) -> dict[str, Any]:
        """Send one command to the namespace's first process and return its reply."""
        assert self._proc is not None and self._proc.stdin is not None
        with self._lock:
            self._proc.stdin.write(json.dumps(command) + "\n")
            self._proc.stdin.flush()
            reply = self._read(self._proc.stdout)
        if "error" in reply or not reply:
            raise RuntimeError(f"{command['cmd']}: {reply.get('error', 'no reply')}")
        return reply

    def start_agent(
        self, name: str, *args: str, env: dict[str, str], log: Path
    ) -> int:
        """A `seedlab agent --executor ray` inside the namespace; its pid there."""
        argv = [
            sys.executable, "-m", "seedlab.cli", "agent", "--executor", "ray",
            "--ray-address", self.address, "--server", INSIDE_SERVER, "--name", name,
            "--quiet-sources", *args,
        ]  # fmt: skip
        return int(self.command(cmd="run", argv=argv, env=env, log=str(log), cwd=str(REPO))["pid"])

    def stop_process(self, pid: int, timeout: float = 60) -> int | None:
        """SIGTERM a process started in the namespace; its exit code (None: still running)."""
        self.command(cmd="signal", pid=pid, signal=int(signal.SIGTERM))
        code = self.command(cmd="wait", pid=pid, timeout=timeout)["code"]
        if code is None:
            self.command(cmd="signal", pid=pid, signal=int(signal.SIGKILL))
        return code if code is None else int(code)

    def second_node_pids(self) -> set[int]:
        """Pids (in the namespace) of the node `kill_node` kills, its Ray workers among them."""
        return set(self.command(cmd="node_pids")["pids"])

    def cpus_in_use(self) -> float:
        """CPUs held by tasks now, as `ray status` reports them ("1.0/2.0 CPU")."""
        for line in self.command(cmd="status")["status"].splitlines():
            if line.strip().endswith(" CPU") and "/" in line:
                return float(line.strip().split("/")[0])
        raise RuntimeError("`ray status` reported no CPU line")

    def log(self) -> str:
        """What the namespace's first process wrote to stderr."""
        path = self.work / "inside.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop every Ray process (the PID namespace dies with its first process)."""
        if self._proc is not None:
            with contextlib.suppress(OSError):
                assert self._proc.stdin is not None
                self._proc.stdin.close()  # EOF: the first process stops Ray and leaves
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._listener is not None:
            self._listener.close()
        shutil.rmtree(self.work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--inside", action="store_true", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--temp-dir", required=True)
    parser.add_argument("--head-cpus", type=int, default=1)
    parser.add_argument("--node-cpus", type=int, default=1)
    inside(parser.parse_args())


if __name__ == "__main__":
    main()
