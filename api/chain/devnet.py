"""Start and stop a local devnet node (Hardhat by default, anvil as the alternative).

Used by ``crda devnet``, ``crda up`` and the test suite. The node runs in its own process
group so that stopping it also stops any child the npm launcher started.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from web3 import Web3

from api.settings import PROJECT_ROOT

BIN = PROJECT_ROOT / "node_modules" / ".bin"
KINDS = ("hardhat", "anvil")


class DevnetError(RuntimeError):
    """The devnet did not start (or the chosen kind is not installed)."""


@dataclass
class Devnet:
    kind: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process_group(self.process.pid)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            stop_process_group(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _command(kind: str, port: int) -> list[str]:
    if kind == "hardhat":
        return [str(BIN / "hardhat"), "node", "--hostname", "127.0.0.1", "--port", str(port)]
    if kind == "anvil":
        return [
            str(BIN / "anvil"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--chain-id",
            "31337",
            "--hardfork",
            "cancun",
            # Nothing on disk (~/.foundry would grow by hundreds of MB), and the last states kept
            # in memory: without a count only the head's is, and a read of "latest" racing the
            # next block fails with BlockOutOfRangeError (so would a read at a recent block).
            "--prune-history",
            "256",
            "--silent",
        ]
    raise DevnetError(f"unknown devnet kind {kind!r}: choose one of {', '.join(KINDS)}")


def start_devnet(
    kind: str = "hardhat",
    port: int | None = None,
    log_path: Path | None = None,
    timeout: float = 60.0,
) -> Devnet:
    """Start a node and wait until it answers JSON-RPC."""
    port = port or free_port()
    if port_is_open(port):
        raise DevnetError(f"port {port} is already taken: choose another with --port")
    command = _command(kind, port)
    if not Path(command[0]).exists():
        raise DevnetError(f"{command[0]} is missing: run `npm ci` (or `make install`)")
    env = {**os.environ, "HARDHAT_DISABLE_TELEMETRY_PROMPT": "true"}
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603  (fixed command, no shell)
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    devnet = Devnet(kind, port, process)
    w3 = Web3(Web3.HTTPProvider(devnet.rpc_url, request_kwargs={"timeout": 2}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DevnetError(f"{kind} exited with {process.returncode} before answering")
        try:
            if w3.is_connected():
                return devnet
        except Exception:  # noqa: BLE001,S110  (not up yet)
            pass
        time.sleep(0.1)
    devnet.stop()
    raise DevnetError(f"{kind} did not answer on port {port} within {timeout:.0f}s")


def stop_process_group(pid: int, sig: int = signal.SIGTERM) -> bool:
    """Signal the whole process group led by ``pid``; False when it is already gone."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True
