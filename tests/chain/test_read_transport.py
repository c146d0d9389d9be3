"""The gateway's reads over a kept-alive connection: a node that closed the idle connection is
asked again on a new one, and a node that does not answer is a 503 problem, not a 500."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.chain.gateway import ReadTransport
from api.errors import ChainUnavailable


class _Node(BaseHTTPRequestHandler):
    """Answers every JSON-RPC request with its method name; closes the connection after each
    answer when the server's ``close_after_answer`` is set (as a node's idle timeout would)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        # Counted before answering: the client may check the count as soon as it has the answer.
        server.connections.add(self.client_address)
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        requests = request if isinstance(request, list) else [request]
        answers = [{"jsonrpc": "2.0", "id": r["id"], "result": r["method"]} for r in requests]
        body = json.dumps(answers if isinstance(request, list) else answers[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if server.close_after_answer:
            self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    close_after_answer = False
    connections: set[tuple[str, int]]


@pytest.fixture
def node() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Node)
    server.connections = set()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_reads_share_one_connection_and_survive_the_node_closing_it(node: _Server) -> None:
    reads = ReadTransport(f"http://127.0.0.1:{node.server_address[1]}/", timeout=5)
    assert reads.request("eth_blockNumber", [])["result"] == "eth_blockNumber"
    answers = reads.batch([("eth_call", []), ("eth_chainId", [])])
    assert sorted(a["result"] for a in answers) == ["eth_call", "eth_chainId"]
    assert len(node.connections) == 1  # kept alive

    node.close_after_answer = True
    assert reads.request("eth_blockNumber", [])["result"] == "eth_blockNumber"
    node.close_after_answer = False
    # The node closed it after that answer: the next read opens a new connection.
    assert reads.request("eth_getBlockByNumber", ["latest", False])["result"] == (
        "eth_getBlockByNumber"
    )
    assert len(node.connections) == 2


def test_a_node_that_does_not_answer_is_a_503_problem() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    reads = ReadTransport(f"http://127.0.0.1:{port}/", timeout=2)
    with pytest.raises(ChainUnavailable):
        reads.request("eth_blockNumber", [])
