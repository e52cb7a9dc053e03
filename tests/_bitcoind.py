"""A real bitcoind for tests: its own datadir, free loopback ports (RPC, ZMQ), stopped at teardown.

The binary is $BITCOIND, else ../shared/bin/bitcoind beside the repo (where CI copies shared/), else
bitcoind on PATH. Without one the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from boveda.bitcoin.network import Network
from boveda.chain.rpc_client import RpcClient, RpcEndpoint, RpcError, endpoint_from_cookie

SHARED_BIN = Path(__file__).resolve().parents[2] / "shared" / "bin"
RPC_USER = "boveda-test"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def find_bitcoind() -> Path | None:
    candidates = [os.environ.get("BITCOIND"), SHARED_BIN / "bitcoind", shutil.which("bitcoind")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def require_bitcoind() -> Path:
    binary = find_bitcoind()
    if binary is not None:
        return binary
    message = f"no bitcoind binary: set BITCOIND, or put one at {SHARED_BIN} or on PATH"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI=true: the bitcoind tests must run)")
    pytest.skip(message)


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel picks it, so two xdist workers get different ones)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rpcauth(user: str, password: str) -> str:
    """The `-rpcauth` value Core's share/rpcauth/rpcauth.py writes: user:salt$HMAC-SHA256(salt, password)."""
    salt = secrets.token_hex(16)
    digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
    return f"{user}:{salt}${digest}"


class Bitcoind:
    """One regtest bitcoind process over `datadir` (which may hold a chain the kernel built).

    Logs in both ways: the cookie file, and `rpc_url` with a user and a random password (-rpcauth).
    """

    def __init__(
        self, binary: Path, datadir: Path, *, rest: bool = True, zmq: bool = True, extra_args: tuple[str, ...] = ()
    ) -> None:
        self.binary = binary
        cli = binary.with_name("bitcoin-cli")
        self.cli_binary = cli if cli.is_file() else (Path(shutil.which("bitcoin-cli") or cli))
        self.datadir = Path(datadir)
        self.datadir.mkdir(parents=True, exist_ok=True)
        self.rest = rest
        self.zmq = zmq
        self.extra_args = tuple(extra_args)
        self.rpc_password = secrets.token_hex(16)
        self._rpcauth = rpcauth(RPC_USER, self.rpc_password)
        self.rpc_port = free_port()
        self.zmq_port = free_port()
        self.process: subprocess.Popen | None = None
        self._clients: list[RpcClient] = []

    # --- where it is --------------------------------------------------------------------

    @property
    def network(self) -> Network:
        return Network.REGTEST

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}"

    @property
    def rpc_url(self) -> str:
        """The URL with the user and password in it (what --rpc-url takes)."""
        return f"http://{RPC_USER}:{self.rpc_password}@127.0.0.1:{self.rpc_port}"

    @property
    def zmq_url(self) -> str:
        return f"tcp://127.0.0.1:{self.zmq_port}"

    @property
    def net_dir(self) -> Path:
        return self.datadir / "regtest"

    def client(self, *, network: Network = Network.REGTEST, cookie: bool = True) -> RpcClient:
        """A client logged in with the cookie (or the URL's user and password); closed at stop."""
        endpoint = (
            endpoint_from_cookie(self.datadir, network, port=self.rpc_port) if cookie
            else RpcEndpoint(self.url, RPC_USER, self.rpc_password)
        )
        client = RpcClient(endpoint, network)
        self._clients.append(client)
        return client

    # --- running ------------------------------------------------------------------------

    def _args(self) -> list[str]:
        args = [
            str(self.binary), "-regtest", f"-datadir={self.datadir}", "-server", f"-rest={int(self.rest)}",
            "-listen=0", "-dnsseed=0", "-fixedseeds=0", "-printtoconsole=0", f"-rpcport={self.rpc_port}",
            "-rpcbind=127.0.0.1", "-rpcallowip=127.0.0.1", f"-rpcauth={self._rpcauth}", "-fallbackfee=0.0001",
        ]
        if self.zmq:
            args += [f"-zmqpub{topic}={self.zmq_url}" for topic in ("sequence", "hashblock", "rawtx")]
        return args + list(self.extra_args)

    def start(self, *, wait: bool = True) -> Bitcoind:
        """Starts the node and waits until its RPC answers; new ports are tried if the old ones got taken.

        `wait=False` returns as soon as the process runs (to see what a starting node answers).
        """
        if not wait:
            self._launch()
            return self
        for _ in range(3):
            try:
                self._start_once()
                return self
            except _PortTaken:
                self.rpc_port, self.zmq_port = free_port(), free_port()
        raise RuntimeError(f"bitcoind could not bind free ports 3 times; see {self.net_dir / 'debug.log'}")

    def _launch(self) -> Path:
        stderr_path = self.datadir / "bitcoind.stderr"
        with stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(self._args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=stderr)
        return stderr_path

    def _start_once(self) -> None:
        stderr_path = self._launch()
        probe = RpcClient(endpoint_from_cookie(self.datadir, Network.REGTEST, port=self.rpc_port), Network.REGTEST,
                          timeout_s=5.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                if self.process.poll() is not None:
                    self.process = None
                    why = self._last_log_lines(stderr_path)
                    if "bind" in why.lower():
                        raise _PortTaken(why)
                    raise RuntimeError(f"bitcoind exited while starting: {why}")
                try:
                    probe.getblockchaininfo()
                    return
                except RpcError as exc:
                    if not exc.retryable and "refused the credentials" not in str(exc):
                        raise
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"bitcoind did not answer RPC within {START_TIMEOUT_S:g} s")
                time.sleep(0.05)
        finally:
            probe.close()

    def _last_log_lines(self, stderr_path: Path) -> str:
        lines = stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
        log = self.net_dir / "debug.log"
        if log.exists():
            lines += log.read_text(errors="replace").strip().splitlines()[-3:]
        return " | ".join(lines) or "no output"

    def cli(self, *args: str | int) -> object:
        """bitcoin-cli against this node; its output parsed as JSON when it is JSON."""
        command = [str(self.cli_binary), "-regtest", f"-datadir={self.datadir}", f"-rpcport={self.rpc_port}",
                   "-rpcclienttimeout=60", *map(str, args)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bitcoin-cli {' '.join(map(str, args))}: {done.stderr.strip()}")
        output = done.stdout.strip()
        try:
            return json.loads(output)
        except ValueError:
            return output

    def stop(self) -> None:
        """`bitcoin-cli stop`, then waits for the process to end; SIGKILL when it does not."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.cli("stop")
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except (RuntimeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def restart(self, *, extra_args: tuple[str, ...] | None = None, rest: bool | None = None) -> Bitcoind:
        """Stops (if running) and starts again on the same ports, so clients and subscribers carry on."""
        self.stop()
        if extra_args is not None:
            self.extra_args = tuple(extra_args)
        if rest is not None:
            self.rest = rest
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- a wallet with coins -------------------------------------------------------------

    def funded_wallet(self, name: str = "miner") -> str:
        """Creates a descriptor wallet, mines 101 blocks to it (one mature coinbase); its address."""
        self.cli("createwallet", name)
        address = self.cli(f"-rpcwallet={name}", "getnewaddress")
        self.cli("generatetoaddress", 101, address)
        return address


class _PortTaken(Exception):
    pass


@pytest.fixture
def bitcoind_factory(tmp_path) -> Iterator:
    """Starts nodes on demand: `bitcoind_factory(datadir=None, rest=True, zmq=True, extra_args=())`.

    Every node it started is stopped at teardown, whatever the test's outcome.
    """
    nodes: list[Bitcoind] = []

    def start(datadir: Path | None = None, **options) -> Bitcoind:
        binary = require_bitcoind()
        node = Bitcoind(binary, datadir or tmp_path / f"bitcoind-{len(nodes)}", **options)
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        try:
            node.stop()
        finally:
            node.kill()


@pytest.fixture
def bitcoind(bitcoind_factory) -> Bitcoind:
    """A running regtest node on an empty chain, REST and ZMQ on."""
    return bitcoind_factory()
