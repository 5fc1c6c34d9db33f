"""Shared fixtures: where the real datasets are, and small synthetic records."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _dataset(sub: str) -> Path:
    root = os.environ.get("ECGQA_DATA_DIR")
    if not root:
        pytest.skip("real data not available: set ECGQA_DATA_DIR (e.g. to ../shared/data)")
    path = Path(root) / sub
    if not path.is_dir():
        pytest.skip(f"real data not available: {path} does not exist")
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Root of the real datasets (``ECGQA_DATA_DIR``); skips the test when unset."""
    return _dataset("")


@pytest.fixture(scope="session")
def ptbxl_dir() -> Path:
    return _dataset("ptb-xl")


@pytest.fixture(scope="session")
def ludb_dir() -> Path:
    return _dataset("ludb")


@pytest.fixture(scope="session")
def ecgqa_dir() -> Path:
    return _dataset("ecg-qa")


@pytest.fixture(scope="session")
def mitdb_dir() -> Path:
    return _dataset("mitdb")


@pytest.fixture(scope="session")
def ptbdb_dir() -> Path:
    return _dataset("ptbdb")


Reply = tuple[int, bytes, str]
"""(HTTP status, body, content type) of a fake endpoint's reply."""
MODELS_REPLY: Reply = (200, b'{"object": "list", "data": [{"id": "x"}]}', "application/json")


class FakeOpenAI:
    """An in-process OpenAI-compatible endpoint (see ``fake_openai_server``); change ``post_reply``
    or ``get_reply`` between requests to change what it answers."""

    def __init__(self, post_reply: Reply, get_reply) -> None:
        import http.server
        import threading

        self.post_reply, self.get_reply = post_reply, get_reply
        self.posts = 0
        """POST requests received."""
        self.seen_auth: list[str | None] = []
        """The Authorization header of every request, in order."""
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.seen_auth.append(self.headers.get("Authorization"))
                self._send(fake.get_reply(self.path) if callable(fake.get_reply) else fake.get_reply)

            def do_POST(self) -> None:
                fake.seen_auth.append(self.headers.get("Authorization"))
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.posts += 1
                self._send(fake.post_reply)

            def _send(self, reply: Reply) -> None:
                status, body, content_type = reply
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.root = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        """The server's address, no path."""
        self.url = f"{self.root}/v1"
        """The base URL to give an OpenAI client."""

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def fake_openai_server():
    """``start(post_reply, get_reply=MODELS_REPLY) -> FakeOpenAI``: an in-process endpoint answering
    every POST with ``post_reply`` (a ``Reply``, or bytes sent as 200 JSON) and every GET with
    ``get_reply`` (a ``Reply``, or a function of the request path returning one). The one fake
    OpenAI server of tests/llm and tests/eval; closed after the test."""
    servers: list[FakeOpenAI] = []

    def start(post_reply: Reply | bytes = (404, b"", "text/plain"), get_reply=MODELS_REPLY) -> FakeOpenAI:
        if isinstance(post_reply, bytes):
            post_reply = (200, post_reply, "application/json")
        servers.append(FakeOpenAI(post_reply, get_reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def example_wfdb_copy(tmp_path: Path) -> Path:
    """The bundled 500 Hz example ptbxl-00210 (00210_hr) copied to ``tmp_path`` as ``rec.hea``/``rec.dat``
    (a WFDB header that states its rate, for reader-note tests)."""
    import shutil

    from ecgqa_tools.records import example_path

    source = example_path("ptbxl-00210")
    shutil.copy(source.with_suffix(".dat"), tmp_path / "rec.dat")
    (tmp_path / "rec.hea").write_text(source.with_suffix(".hea").read_text().replace("00210_hr", "rec"))
    return tmp_path / "rec.hea"
