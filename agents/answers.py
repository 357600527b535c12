"""Turning free model output into a short answer, and cleaning generated steps.

Small models wrap answers in sentences, tags and quotes, invent their own ``<information>``
blocks and run on past the answer. These helpers never raise: any string maps to a
(possibly empty) answer, and an empty answer means "no answer".
"""

from __future__ import annotations

import re
from collections import Counter

from sleuth.agents.evidence import normalize_answer

MAX_SHORT_ANSWER_CHARS = 200
MAX_STEP_CHARS = 600

_FAKE_INFO = re.compile(r"<\s*information\b", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?\s*[a-zA-Z_]+\b[^<>]*>")
_ANSWER_TAG = re.compile(r"<\s*answer\s*>(.*?)(?:<\s*/\s*answer\s*>|$)", re.IGNORECASE | re.DOTALL)
_ANSWER_IS = re.compile(r"\banswer\s+is\s*:?\s*(.+)", re.IGNORECASE | re.DOTALL)
_ANSWER_PREFIX = re.compile(r"^\s*(?:final\s+)?answer\s*:\s*", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof rev st jr sr gen col capt lt sgt gov sen rep pres fr mt ft no vs etc "
    "inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec u.s"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_NON_ANSWERS = (
    "unknown",
    "i dont know",
    "i do not know",
    "not known",
    "no answer",
    "none",
    "insufficient information",
    "not enough information",
    "cannot be determined",
    "cannot answer",
    "not mentioned",
    "not provided",
    "no information",
    "n a",
)


def drop_fake_information(text: str) -> str:
    """Cut the output where the model starts writing its own ``<information>`` block."""
    match = _FAKE_INFO.search(text or "")
    return (text or "") if match is None else (text or "")[: match.start()]


def clean_step(text: str, limit: int = MAX_STEP_CHARS) -> str:
    """One generated reasoning step as plain text: fake information dropped, tags removed,
    whitespace collapsed, at most ``limit`` characters."""
    body = _ANY_TAG.sub(" ", drop_fake_information(text))
    return " ".join(body.split())[:limit].strip()


def first_sentence(text: str) -> str:
    """The first sentence of ``text``: up to ``. ``, ``? ``, ``! `` or a newline, where a
    period after an initial or a title ("T. R. M. Howard", "Rev. King") ends nothing."""
    line = (text or "").strip().split("\n", 1)[0]
    for match in _SENTENCE_END.finditer(line):
        if match.group(0)[0] != "." or not _is_abbreviation(line[: match.start()]):
            return line[: match.end()].strip()
    return line.strip()


def _is_abbreviation(before: str) -> bool:
    """Whether the word ending ``before`` (just ahead of a period) is an initial or a title."""
    words = before.split()
    word = words[-1].strip("\"'(").lower() if words else ""
    return len(word) <= 1 or word in _ABBREVIATIONS


def extract_answer(text: str) -> str:
    """The short answer in ``text``: the content of ``<answer>``, the words after
    "the answer is", or the first line, without a leading "Answer:", quotes or a final period."""
    text = drop_fake_information(text or "")
    tagged = _ANSWER_TAG.search(text)
    if tagged is not None:
        text = tagged.group(1)
    else:
        said = _ANSWER_IS.search(text)
        if said is not None:
            text = said.group(1)
    text = _ANY_TAG.sub(" ", text).strip()
    line = next((ln for ln in text.split("\n") if ln.strip()), "")
    line = _ANSWER_PREFIX.sub("", line).strip()
    line = line.strip(" \"'`*")
    if line.endswith(".") and not re.search(r"\b[A-Z]\.$", line):
        line = line[:-1]
    return " ".join(line.split())[:MAX_SHORT_ANSWER_CHARS].strip(" \"'`*")


def is_non_answer(text: str) -> bool:
    """True for empty answers and refusals such as "unknown" or "insufficient information"."""
    norm = normalize_answer(text)
    if not norm:
        return True
    return any(norm == phrase or norm.startswith(phrase + " ") for phrase in _NON_ANSWERS)


_WH_QUESTION = re.compile(
    r"^\W*(?:(?:in|at|on|by|for|from|of|to|with|during|since|after|before)\s+)?"
    r"(?:what|which|who|whom|whose|when|where|why|how)\b", re.IGNORECASE)
YES_NO = frozenset({"yes", "no"})


def asks_for_a_thing(question: str) -> bool:
    """Whether ``question`` opens with a wh-word ("What ...", "In which ...", "Who ..."), so
    that a yes or no cannot answer it. In the HotpotQA sandbox 1 of its 841 such questions has
    a yes/no gold answer, and that one is garbled ("Where operation ... fought during to
    different wars?")."""
    return bool(_WH_QUESTION.match(question))


def mismatched_yes_no(question: str, answer: str) -> bool:
    """A yes or no given to a question that asks for a thing (:func:`asks_for_a_thing`)."""
    return normalize_answer(answer) in YES_NO and asks_for_a_thing(question)


def majority(answers: list[str]) -> tuple[str, float]:
    """The most common answer (by normalised form, ties to the earliest) and its share of
    the non-empty answers. ``("", 0.0)`` when every answer is empty."""
    kept = [a for a in answers if not is_non_answer(a)]
    if not kept:
        return "", 0.0
    counts = Counter(normalize_answer(a) for a in kept)
    best_norm = max(counts, key=lambda n: (counts[n], -_first_index(kept, n)))
    best = next(a for a in kept if normalize_answer(a) == best_norm)
    return best, counts[best_norm] / len(answers)


def _first_index(answers: list[str], norm: str) -> int:
    return next(i for i, a in enumerate(answers) if normalize_answer(a) == norm)


__all__ = [
    "YES_NO",
    "asks_for_a_thing",
    "clean_step",
    "drop_fake_information",
    "extract_answer",
    "first_sentence",
    "is_non_answer",
    "majority",
    "mismatched_yes_no",
]
