"""Evidence notes and the :class:`EvidenceLedger`: every claim the agent relies on, mapped to
the passages behind it.

An evidence note (after EviNote-RAG) lists key facts and uncertain facts, each tagged with
the document it came from, or says "No useful evidence.". :func:`parse_note` never raises:
it reads whatever lines it can, maps ``[Doc N]`` to passage ids, moves a claim whose cited
document does not back it to the shown document that does, and drops claims that no shown
document backs (a model's invented fact).
"""

from __future__ import annotations

import re

from pydantic import Field

from sleuth.agents.answers import YES_NO, clean_step, drop_fake_information
from sleuth.agents.evidence import normalize_answer
from sleuth.types import Passage, StrictModel

_DOC_REF = re.compile(r"[\[(]?\s*(?:doc(?:ument)?\s*)(\d{1,2})\s*[\])]?\s*[:,.-]?", re.IGNORECASE)
_NO_EVIDENCE = re.compile(r"no\s+(useful|relevant)\s+(evidence|information)", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s*")
_HEADING = re.compile(r"^\s*(key\s+facts|uncertain(\s+facts)?)\s*:\s*(.*)$", re.IGNORECASE)
_STOPWORDS = frozenset(
    ["the", "of", "and", "in", "on", "at", "to", "for", "by", "with", "from", "is", "was", "were", "are", "be", "been", "as", "that", "this", "it", "its", "which", "who", "whom", "what", "when", "where", "how", "his", "her", "their", "he", "she", "they"]
)
MIN_OVERLAP = 0.5
"""Share of a claim's content words that must appear in the passage it cites."""


class Claim(StrictModel):
    text: str
    passage_ids: list[str] = Field(default_factory=list)
    certain: bool = True
    hop: int = 0


class EvidenceNote(StrictModel):
    hop: int
    text: str
    claims: list[Claim] = Field(default_factory=list)
    useful: bool = False
    dropped: list[str] = Field(default_factory=list)
    """Claims left out: no document cited and none matched, or too little overlap."""


def content_words(text: str) -> set[str]:
    return {w for w in normalize_answer(text).split() if w not in _STOPWORDS}


def overlap(claim: str, passage: Passage) -> float:
    """Share of the claim's content words found in the passage's title and text."""
    words = content_words(claim)
    if not words:
        return 0.0
    return len(words & content_words(f"{passage.title} {passage.text}")) / len(words)


def _ground(claim: str, refs: list[int], passages: list[Passage]) -> list[str]:
    """The ids of the cited passages that back ``claim``; without a citation, or with one that
    does not back it (small models miscount documents), the passage it matches best."""
    cited = [passages[i - 1] for i in refs if 1 <= i <= len(passages)]
    backed = [p.id for p in cited if overlap(claim, p) >= MIN_OVERLAP]
    if backed:
        return backed
    scored = sorted(((overlap(claim, p), p.id) for p in passages), reverse=True)
    return [scored[0][1]] if scored and scored[0][0] >= MIN_OVERLAP else []


def parse_note(text: str, passages: list[Passage], hop: int) -> EvidenceNote:
    """Read a generated note; ``passages`` are the documents in the order shown (Doc 1...)."""
    note = EvidenceNote(hop=hop, text=clean_step(text, 1200))
    certain = True
    for raw in drop_fake_information(text).split("\n"):
        heading = _HEADING.match(raw)
        if heading is not None:
            certain = heading.group(1).lower().startswith("key")
            raw = heading.group(3)
        line = _BULLET.sub("", raw).strip()
        if not line or line.lower() in {"none", "n/a", "-"} or _NO_EVIDENCE.search(line):
            continue
        refs = [int(m.group(1)) for m in _DOC_REF.finditer(line)]
        claim = clean_step(_DOC_REF.sub(" ", line), 300).strip(" -:")
        if len(content_words(claim)) < 2:  # a bare name or "yes" states no fact
            continue
        ids = _ground(claim, refs, passages)
        if ids:
            note.claims.append(Claim(text=claim, passage_ids=ids, certain=certain, hop=hop))
        else:
            note.dropped.append(claim)
    note.useful = any(c.certain for c in note.claims)
    return note


class EvidenceLedger(StrictModel):
    """Claims with the passages behind them, in the order they were found."""

    claims: list[Claim] = Field(default_factory=list)
    passages: dict[str, Passage] = Field(default_factory=dict)

    def add(self, note: EvidenceNote, passages: list[Passage]) -> None:
        """Add a note's claims (skipping repeats) and keep the passages they cite."""
        known = {normalize_answer(c.text) for c in self.claims}
        by_id = {p.id: p for p in passages}
        for claim in note.claims:
            if normalize_answer(claim.text) in known:
                continue
            self.claims.append(claim)
            known.add(normalize_answer(claim.text))
            for pid in claim.passage_ids:
                if pid in by_id:
                    self.passages[pid] = by_id[pid]

    def facts_text(self) -> str:
        """Numbered facts for prompts; uncertain ones are marked."""
        return "\n".join(
            f"{i}. {c.text}{'' if c.certain else ' (uncertain)'}" for i, c in enumerate(self.claims, 1)
        )

    def cited(self) -> list[Passage]:
        return list(self.passages.values())

    def supporting(self, answer: str) -> list[Passage]:
        """Cited passages that contain the answer (see :func:`answer_in_passage`)."""
        return [p for p in self.cited() if answer_in_passage(answer, p)]


def answer_in_passage(answer: str, passage: Passage) -> bool:
    """The cheap check: the normalised answer occurs in the passage, or every content word of
    a multi-word answer does."""
    return answer_in_text(answer, f"{passage.title} {passage.text}")


_POSSESSIVE = re.compile(r"['’]s\b", re.IGNORECASE)


_NUMBER_WORDS = {word: str(n) for n, word in enumerate(
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"])}


def _numerals(normalized: str) -> str:
    """Number words up to twenty as digits: a draft says "3", its passage "three years"."""
    return " ".join(_NUMBER_WORDS.get(word, word) for word in normalized.split())


def answer_in_text(answer: str, text: str) -> bool:
    """:func:`answer_in_passage` over any text. Possessive "'s" is ignored on both sides:
    drafts copy "New Jersey's Morris Canal" from a question whose passage says "Morris Canal
    ... across northern New Jersey". Number words up to twenty match their digits."""
    answer, text = _POSSESSIVE.sub("", answer), _POSSESSIVE.sub("", text)
    norm = _numerals(normalize_answer(answer))
    if not norm:
        return False
    haystack = _numerals(normalize_answer(text))
    if f" {norm} " in f" {haystack} ":
        return True
    words = set(_numerals(" ".join(content_words(answer))).split())
    return len(words) > 1 and words <= set(haystack.split())


def string_check(answer: str, ledger: EvidenceLedger) -> bool | None:
    """Whether a cited passage contains the answer; ``None`` for yes/no answers, which no
    passage spells out."""
    if normalize_answer(answer) in YES_NO:
        return None
    return bool(ledger.supporting(answer))


__all__ = [
    "Claim",
    "EvidenceLedger",
    "EvidenceNote",
    "answer_in_passage",
    "answer_in_text",
    "content_words",
    "overlap",
    "parse_note",
    "string_check",
]
