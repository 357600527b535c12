"""The Search-R1 tag protocol: parse model output into the next action, escape retrieved text.

The model reasons in ``<think>``, asks for evidence with ``<search>query</search>`` and ends
with ``<answer>text</answer>``. Retrieved passages come back inside ``<information>``.
:func:`parse_step` never raises: any string maps to a valid :class:`Step`.
"""

from __future__ import annotations

import re
from typing import Literal

from sleuth.types import StrictModel

PROTOCOL_TAGS = ("think", "search", "information", "answer")
_TAG_RE = re.compile(r"<\s*(/?)\s*(think|search|information|answer)\b[^<>]*>", re.IGNORECASE)
_OPEN_RE = {tag: re.compile(rf"<\s*{tag}\s*>", re.IGNORECASE) for tag in PROTOCOL_TAGS}
_CLOSE_RE = {tag: re.compile(rf"<\s*/\s*{tag}\s*>", re.IGNORECASE) for tag in PROTOCOL_TAGS}
MAX_QUERY_CHARS = 500
MAX_ANSWER_CHARS = 1000


class Step(StrictModel):
    """One parsed model turn."""

    action: Literal["search", "answer", "invalid"]
    content: str = ""
    """The query for ``search``, the answer text for ``answer``."""
    think: str = ""
    """The reasoning text of the turn, tags removed."""
    reason: str = ""
    """Why the turn is ``invalid``."""
    kept_text: str = ""
    """The part of the model's output to keep in the transcript (fake information removed)."""


def parse_step(text: str, finish_reason: str = "stop", stop_sequence: str | None = None) -> Step:
    """Map one generated segment to the next action.

    Generation stops at ``</search>`` and ``</answer>``, which the engine strips, so an
    open ``<search>`` or ``<answer>`` at the end of a stopped segment is a complete action.
    """
    text = text or ""
    kept = _drop_fake_information(text)
    think = _extract_think(kept)
    last_tag, start = _last_open(kept, ("search", "answer"))
    if last_tag is None:
        reason = "no <search> or <answer> tag"
        if finish_reason == "length":
            reason = "output ran past max_tokens without an action"
        if len(kept) < len(text):
            reason = "model wrote its own <information> instead of searching"
        return Step(action="invalid", think=think, reason=reason, kept_text=kept)
    body = kept[start:]
    close = _CLOSE_RE[last_tag].search(body)
    if close is not None:
        body = body[: close.start()]
    elif finish_reason == "length" and stop_sequence is None:
        return Step(
            action="invalid",
            think=think,
            reason=f"<{last_tag}> was never closed before max_tokens",
            kept_text=kept,
        )
    content = _clean(body, MAX_QUERY_CHARS if last_tag == "search" else MAX_ANSWER_CHARS)
    if not content:
        return Step(action="invalid", think=think, reason=f"empty <{last_tag}>", kept_text=kept)
    action: Literal["search", "answer"] = "search" if last_tag == "search" else "answer"
    return Step(action=action, content=content, think=think, kept_text=kept)


def _drop_fake_information(text: str) -> str:
    """Cut the output where the model starts writing its own ``<information>`` block."""
    match = _OPEN_RE["information"].search(text)
    return text if match is None else text[: match.start()].rstrip()


def _extract_think(text: str) -> str:
    match = _OPEN_RE["think"].search(text)
    if match is None:
        # The transcript pre-fills "<think>", so a turn often starts inside the think block.
        close = _CLOSE_RE["think"].search(text)
        return _TAG_RE.sub(" ", text[: close.start()]).strip() if close else ""
    body = text[match.end():]
    close = _CLOSE_RE["think"].search(body)
    body = body[: close.start()] if close else _TAG_RE.split(body, maxsplit=1)[0]
    return body.strip()


def _last_open(text: str, tags: tuple[str, ...]) -> tuple[str | None, int]:
    best: tuple[str | None, int, int] = (None, -1, 0)
    for tag in tags:
        for match in _OPEN_RE[tag].finditer(text):
            if match.start() > best[1]:
                best = (tag, match.start(), match.end())
    return best[0], best[2]


def _clean(body: str, limit: int) -> str:
    body = _TAG_RE.sub(" ", body)
    return " ".join(body.split())[:limit].strip()


_SPECIAL_TOKEN_RE = re.compile(r"<\|([^<>|]{0,40})\|>")


def escape_retrieved(text: str) -> str:
    """Neutralise protocol tags inside retrieved text so a passage cannot end ``<information>``
    early or inject an ``<answer>``; also chat-template special tokens such as
    ``<|im_end|>``, which a tokenizer would otherwise turn into a real end of turn."""
    text = _SPECIAL_TOKEN_RE.sub(lambda m: f"&lt;|{m.group(1)}|&gt;", text)
    return _TAG_RE.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), text)


__all__ = ["Step", "escape_retrieved", "parse_step"]
