"""ChatML prompt rendering (Qwen's ``<|im_start|>role ... <|im_end|>`` format).

Used when a model ships no chat template, and by the OpenAI-compatible engine when it is
told to render prompts itself so it can continue an unfinished assistant turn on servers
that cannot.
"""

from __future__ import annotations

from collections.abc import Sequence

from sleuth.engines.base import ChatMessage

IM_START = "<|im_start|>"
IM_END = "<|im_end|>"


def render_chatml(messages: Sequence[ChatMessage], *, continue_final: bool = False) -> str:
    """Render ``messages`` and open the next assistant turn.

    With ``continue_final`` the last message must be an assistant turn; it is left open
    (no ``<|im_end|>``) so that generation continues its text.
    """
    if continue_final:
        if not messages or messages[-1].role != "assistant":
            raise ValueError("continue_final needs a final assistant message")
        head = "".join(_turn(m) for m in messages[:-1])
        return f"{head}{IM_START}assistant\n{messages[-1].content}"
    return "".join(_turn(m) for m in messages) + f"{IM_START}assistant\n"


def _turn(message: ChatMessage) -> str:
    return f"{IM_START}{message.role}\n{message.content}{IM_END}\n"


__all__ = ["IM_END", "IM_START", "render_chatml"]
