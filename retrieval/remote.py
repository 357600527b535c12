"""RemoteRetriever: the Retriever protocol over HTTP, against Search-R1's /retrieve API.

Works with ``sleuth serve retrieval`` and with Search-R1's or FlashRAG's own retrieval
servers, so an agent does not care where the index lives.
"""

from __future__ import annotations

from typing import Any

import httpx

from sleuth.errors import RetrievalError
from sleuth.retrieval.corpus import split_contents
from sleuth.types import Passage, SearchHit


class RemoteRetriever:
    """Searches a retrieval server; large batches are sent in chunks of ``batch_size``."""

    name = "remote"

    def __init__(self, base_url: str, *, timeout_s: float = 60.0, batch_size: int = 256,
                 client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.batch_size = batch_size
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=5.0))
        self._owns_client = client is None

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        out: list[list[SearchHit]] = []
        for start in range(0, len(queries), self.batch_size):
            out.extend(await self._post(queries[start : start + self.batch_size], k))
        return out

    async def _post(self, queries: list[str], k: int) -> list[list[SearchHit]]:
        url = f"{self.base_url}/retrieve"
        payload = {"queries": queries, "topk": k, "return_scores": True}
        try:
            response = await self._client.post(url, json=payload)
        except httpx.HTTPError as exc:
            raise RetrievalError(
                f"Retrieval server at {self.base_url} is unreachable: {exc!r}",
                hint="start it with: sleuth serve retrieval --index DIR",
                url=url,
            ) from exc
        if response.status_code != 200:
            raise RetrievalError(
                f"Retrieval server answered {response.status_code}: {response.text[:500]}",
                url=url,
                status=response.status_code,
            )
        try:
            result = response.json()["result"]
            return [[_hit(item, rank) for rank, item in enumerate(hits)] for hits in result]
        except (ValueError, KeyError, TypeError) as exc:
            raise RetrievalError(
                f"Retrieval server at {self.base_url} sent an unexpected response: {exc!r}",
                url=url,
            ) from exc

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()


def _hit(item: dict[str, Any], rank: int) -> SearchHit:
    doc = item["document"]
    if "contents" in doc:
        title, text = split_contents(doc["contents"])
    else:
        title, text = doc.get("title", ""), doc["text"]
    passage = Passage(id=str(doc["id"]), title=title, text=text)
    return SearchHit(passage=passage, score=float(item.get("score", 0.0)), rank=rank)


__all__ = ["RemoteRetriever"]
