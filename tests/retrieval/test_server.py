"""The retrieval server over real HTTP: Search-R1's exact shapes, validation, micro-batching."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from sleuth.errors import RetrievalError
from sleuth.retrieval.bm25 import BM25Retriever
from sleuth.retrieval.remote import RemoteRetriever
from sleuth.retrieval.server import BackgroundServer, ServerLimits, create_app
from sleuth.types import Passage, SearchHit

PASSAGES = [
    Passage(id="p1", title="Aaron", text="Aaron is a prophet, high priest, and the brother of Moses."),
    Passage(id="p2", title="Moses", text="Moses is considered the most important prophet in Judaism."),
    Passage(id="p3", title="", text="An untitled passage about rivers and the sea."),
]


class CountingRetriever:
    """Wraps a real retriever and records each index call, slowed so requests overlap."""

    name = "counting"

    def __init__(self, inner: BM25Retriever) -> None:
        self.inner = inner
        self.calls: list[int] = []

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        self.calls.append(len(queries))
        await asyncio.sleep(0.05)
        return await self.inner.search(queries, k)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture(scope="module")
def counting() -> CountingRetriever:
    return CountingRetriever(BM25Retriever.from_passages(PASSAGES))


@pytest.fixture(scope="module")
def url(counting: CountingRetriever) -> Iterator[str]:
    app = create_app(counting, ServerLimits(max_queries=64, max_query_chars=1000, max_topk=50), passages=3)
    with BackgroundServer(app) as base:
        yield base


def test_search_r1_response_shape_with_scores(url: str) -> None:
    body = {"queries": ["brother of Moses", "rivers"], "topk": 2, "return_scores": True}
    response = httpx.post(f"{url}/retrieve", json=body)
    assert response.status_code == 200
    result = response.json()
    assert list(result) == ["result"] and len(result["result"]) == 2
    first = result["result"][0][0]
    assert set(first) == {"document", "score"}
    assert first["document"] == {
        "id": "p1",
        "contents": '"Aaron"\nAaron is a prophet, high priest, and the brother of Moses.',
    }
    assert isinstance(first["score"], float) and first["score"] > 0
    assert result["result"][1][0]["document"]["contents"] == '""\nAn untitled passage about rivers and the sea.'


def test_without_return_scores_each_hit_is_the_document(url: str) -> None:
    response = httpx.post(f"{url}/retrieve", json={"queries": ["prophet"], "topk": 2})
    hits = response.json()["result"][0]
    assert len(hits) == 2 and all(set(h) == {"id", "contents"} for h in hits)


def test_topk_defaults_to_three(url: str) -> None:
    response = httpx.post(f"{url}/retrieve", json={"queries": ["prophet Moses Aaron sea"]})
    assert len(response.json()["result"][0]) == 3


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"queries": ["q"] * 100_000, "topk": 3}, "queries"),
        ({"queries": ["x" * 1_000_000], "topk": 3}, "queries"),
        ({"queries": ["q"], "topk": 0}, "topk"),
        ({"queries": ["q"], "topk": 10_000}, "topk"),
        ({"queries": [], "topk": 3}, "queries"),
        ({"queries": "not a list"}, "queries"),
        ({"queries": ["q"], "topk": 3, "surprise": 1}, "surprise"),
    ],
    ids=["100k-queries", "1MB-query", "topk-0", "topk-10000", "no-queries", "string", "extra-field"],
)
def test_bad_requests_get_422_with_a_json_body(url: str, body: dict, where: str) -> None:  # type: ignore[type-arg]
    response = httpx.post(f"{url}/retrieve", json=body, timeout=30)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert any(where in map(str, e["loc"]) for e in detail), detail
    assert len(response.content) < 10_000  # the offending input is not echoed back


def test_malformed_json_and_oversized_body(url: str) -> None:
    response = httpx.post(f"{url}/retrieve", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["type"] == "json_invalid"
    huge = json.dumps({"queries": ["q" * 900] * 10_000}).encode()
    response = httpx.post(f"{url}/retrieve", content=huge, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "exceeds" in response.json()["detail"]


def test_health(url: str) -> None:
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["passages"] == 3
    assert health["limits"]["max_topk"] == 50


async def test_concurrent_requests_are_micro_batched(url: str, counting: CountingRetriever) -> None:
    queries = [f"prophet {i}" for i in range(24)] + ["rivers sea"]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        before = len(counting.calls)
        responses = await asyncio.gather(
            *(client.post("/retrieve", json={"queries": [q], "topk": 1 + i % 3, "return_scores": True})
              for i, q in enumerate(queries))
        )
    calls = counting.calls[before:]
    assert sum(calls) == len(queries)
    assert len(calls) < len(queries) / 2, calls
    direct = await counting.inner.search(queries, 3)
    for i, (response, expected) in enumerate(zip(responses, direct)):
        hits = response.json()["result"][0]
        assert [h["document"]["id"] for h in hits] == [e.passage.id for e in expected[: 1 + i % 3]]


async def test_remote_retriever_round_trips_passages(url: str) -> None:
    remote = RemoteRetriever(url, batch_size=2)
    results = await remote.search(["brother of Moses", "rivers", "prophet"], k=2)
    await remote.aclose()
    assert [len(r) for r in results] == [2, 1, 2]
    assert results[0][0].passage == PASSAGES[0]
    assert results[1][0].passage == PASSAGES[2]


async def test_remote_errors_are_retrieval_errors(url: str) -> None:
    remote = RemoteRetriever(url)
    with pytest.raises(RetrievalError, match="422"):
        await remote.search(["q"], k=10_000)
    await remote.aclose()
    down = RemoteRetriever("http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(RetrievalError, match="unreachable") as info:
        await down.search(["q"], k=1)
    assert "sleuth serve retrieval" in (info.value.hint or "")
    await down.aclose()
