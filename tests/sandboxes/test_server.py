"""The sandbox HTTP API, against a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sleuth.sandboxes import Sandbox
from sleuth.sandboxes.server import create_app

GOLD_ID, GOLD_TITLE = "hp001589", "American Hardcore (film)"
QUERY = "American Hardcore film 2006 documentary punk"


@pytest.fixture(scope="module")
def base_url(mini_sandbox: Sandbox) -> Iterator[str]:
    import uvicorn

    app = create_app(mini_sandbox, max_sessions=6, max_body_bytes=4096)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=20) as c:
        yield c


def _session(client: httpx.Client, **mask: list[str]) -> str:
    r = client.post("/sessions", json=mask)
    assert r.status_code == 201, r.text
    sid: str = r.json()["session_id"]
    return sid


def _assert_json_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"]["code"] == code


def test_health_and_openapi(client: httpx.Client) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["sandbox"]["n_paragraphs"] == 208
    spec = client.get("/openapi.json").json()
    for path in ("/sessions", "/sessions/{session_id}/search", "/sessions/{session_id}/open",
                 "/sessions/{session_id}/find", "/sessions/{session_id}/log"):
        assert path in spec["paths"]
    assert "SearchRequest" in spec["components"]["schemas"]


def test_search_open_find_are_answered_and_logged(client: httpx.Client) -> None:
    sid = _session(client)
    hits = client.post(f"/sessions/{sid}/search", json={"query": QUERY, "k": 3}).json()["hits"]
    assert hits[0]["id"] == GOLD_ID and hits[0]["title"] == GOLD_TITLE and hits[0]["snippet"]
    page = client.post(f"/sessions/{sid}/open", json={"title_or_id": GOLD_TITLE}).json()
    assert page["ids"] == [GOLD_ID] and page["n_pages"] == 1 and "documentary" in page["text"]
    found = client.post(f"/sessions/{sid}/find",
                        json={"title_or_id": GOLD_ID, "pattern": "hardcore"}).json()
    assert found["matches"] and all("hardcore" in m["sentence"].lower() for m in found["matches"])
    log = client.get(f"/sessions/{sid}/log").json()["actions"]
    assert [a["tool"] for a in log] == ["search", "open", "find"]
    assert log[0]["ids"] == [h["id"] for h in hits] and log[0]["args"]["query"] == QUERY
    assert log[1]["ids"] == [GOLD_ID] and all(a["duration_s"] >= 0 for a in log)


def test_sessions_have_their_own_logs_and_masks(client: httpx.Client) -> None:
    open_sid = _session(client)
    masked_sid = _session(client, hide_ids=[GOLD_ID])
    seen = client.post(f"/sessions/{open_sid}/search", json={"query": QUERY, "k": 5}).json()
    hidden = client.post(f"/sessions/{masked_sid}/search", json={"query": QUERY, "k": 5}).json()
    assert GOLD_ID in {h["id"] for h in seen["hits"]}
    assert GOLD_ID not in {h["id"] for h in hidden["hits"]} and len(hidden["hits"]) == 5
    r = client.post(f"/sessions/{masked_sid}/open", json={"title_or_id": GOLD_TITLE})
    _assert_json_error(r, 404, "not_found")
    assert len(client.get(f"/sessions/{open_sid}/log").json()["actions"]) == 1
    masked_log = client.get(f"/sessions/{masked_sid}/log").json()["actions"]
    assert [a["tool"] for a in masked_log] == ["search", "open"]
    assert masked_log[1]["error"] and masked_log[1]["ids"] == []
    assert client.delete(f"/sessions/{masked_sid}").status_code == 204
    _assert_json_error(client.get(f"/sessions/{masked_sid}/log"), 404, "unknown_session")
    client.delete(f"/sessions/{open_sid}")


def test_bad_requests_get_4xx_json(client: httpx.Client) -> None:
    sid = _session(client)
    url = f"/sessions/{sid}"
    headers = {"content-type": "application/json"}
    _assert_json_error(client.post(f"{url}/search", content=b'{"query": ', headers=headers),
                       400, "bad_json")
    _assert_json_error(client.post(f"{url}/search", json={"query": "x" * 1001}), 422,
                       "invalid_request")
    _assert_json_error(client.post(f"{url}/search", json={"query": "film", "k": 0}), 422,
                       "invalid_request")
    _assert_json_error(client.post(f"{url}/search", json={"query": "film", "extra": 1}), 422,
                       "invalid_request")
    _assert_json_error(client.post(f"{url}/search", json={"query": "y" * 5000}), 413, "too_large")
    for path in ("../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "file:///etc/passwd",
                 "a/../../b", "~/.ssh/id_rsa"):
        _assert_json_error(client.post(f"{url}/open", json={"title_or_id": path}), 422,
                           "invalid_request")
    # a real title with a slash is not a path: it is looked up (and here not found)
    _assert_json_error(client.post(f"{url}/open", json={"title_or_id": "AC/DC"}), 404, "not_found")
    _assert_json_error(client.post(f"{url}/open", json={"title_or_id": GOLD_ID, "page": 3}), 400,
                       "bad_argument")
    _assert_json_error(client.post("/sessions/nope/search", json={"query": "film"}), 404,
                       "unknown_session")
    log = client.get(f"{url}/log").json()["actions"]
    assert [a["error"] is not None for a in log] == [True, True]  # AC/DC and page 3 reached tools


def test_session_limit(client: httpx.Client) -> None:
    created = []
    while True:
        r = client.post("/sessions", json={})
        if r.status_code != 201:
            break
        created.append(r.json()["session_id"])
        assert len(created) <= 6
    _assert_json_error(r, 429, "too_many_sessions")
    for sid in created:
        client.delete(f"/sessions/{sid}")
    assert client.post("/sessions").status_code == 201  # body is optional


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_cli_serves_a_sandbox(mini_sandbox_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sleuth", "serve", "sandbox", "--sandbox", str(mini_sandbox_dir),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        sid = httpx.post(f"{url}/sessions", json={}).json()["session_id"]
        hits = httpx.post(f"{url}/sessions/{sid}/search", json={"query": "Sampha", "k": 1}).json()
        assert hits["hits"][0]["title"] == "Sampha"
        assert httpx.get(f"{url}/sessions/{sid}/log").json()["actions"][0]["tool"] == "search"
    finally:
        proc.terminate()
        proc.wait(timeout=20)
