"""Which names in a question no passage read so far mentions.

A grounded answer to "Which canal was longer, the Sandy and Beaver Canal or the Morris
Canal?" needs evidence about both canals. EvidenceLoop checks that every name the question
uses (a run of capitalised words, or a quoted title) occurs in some passage it has read;
a name that none mentions is a missing hop, and its words make the next search query. When
the corpus has no page on it (in the sandbox: when the gold evidence is masked) the name
stays missing and the loop abstains instead of answering from passages about something else.

Matching is on folded text (case, accents and punctuation ignored, whole words). It is
lenient where questions and pages name things differently:

- "Ian Brown and Dee Snider" is covered when "Ian Brown" and "Dee Snider" are, each in any
  passage (a name may be split at a connective: and, of, in, the, ...);
- "Lieutenant Colonel Donald Swain Lewis" is covered by "Donald Swain Lewis" (in a name
  without connectives, a leading or trailing word may go, down to two words: ranks,
  demonyms, "Mexican Alejandro Springall");
- years and numbers at a name's edge are not part of it ("1991 Euromarché").

Questions written in capitals have no names to read; they pass.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sleuth.sandboxes.links import short_name
from sleuth.types import Passage

CONNECTIVES = frozenset(
    ["of", "the", "and", "de", "la", "le", "du", "des", "von", "van", "der", "den", "for", "in",
     "on", "a", "an", "&", "at", "to", "del", "y", "da", "di"]
)
"""Lower-case words that may sit inside a name ("Bank of England", "Basset Bleu de Gascogne")."""

_SPLIT_AT = frozenset(["and", "&", "in", "of", "the", "for", "on", "at", "to"])
"""Connectives at which a name may be two names ("Ian Brown and Dee Snider", "X in Ohio")."""

_NOT_NAMES = frozenset(
    ["which", "what", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
     "were", "did", "do", "does", "in", "the", "a", "an", "of", "on", "at", "for", "this", "that",
     "these", "those", "as", "by", "from", "both", "name", "if", "with", "or", "during", "between",
     "after", "before", "since", "although", "while", "besides", "other", "than", "not", "has",
     "have", "had", "can", "could", "will", "would", "i", "it", "its", "there", "he", "she",
     "they", "his", "her", "their"]
)
"""Capitalised only because they start the sentence (or are "I"): never a name's edge."""

_NOT_ALONE = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december", "near", "one", "two", "three", "some", "many", "most",
     "all", "each", "every", "former", "only", "among", "despite", "though", "about", "over",
     "under", "according", "located", "born", "based", "also", "then", "there", "here"]
)
"""Words that are no name on their own: months (in dates) and common sentence openers."""

_TOKEN = re.compile(r"\w[\w.\-–'’]*|\S")
_QUOTED = re.compile(r"[\"“]([^\"”]{2,80})[\"”]")
_NUMERIC = re.compile(r"[\d\W_]+(?:s|th|st|nd|rd)?(?:-\w+)?")
_POSSESSIVE = re.compile(r"['’]s?$")


def fold(text: str) -> str:
    """Case, accents and punctuation folded away; words separated by single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def _is_number(token: str) -> bool:
    return bool(_NUMERIC.fullmatch(token))


def _trim(tokens: list[str]) -> list[str]:
    """Drop connectives, sentence words and numbers at either edge of a candidate name (a new list)."""
    tokens = list(tokens)
    while tokens and (tokens[-1].casefold() in CONNECTIVES or _is_number(tokens[-1])):
        tokens = tokens[:-1]
    while tokens and (tokens[0].casefold() in _NOT_NAMES or tokens[0].casefold() in CONNECTIVES
                      or _is_number(tokens[0])):
        tokens = tokens[1:]
    return tokens


def _too_short(words: list[str]) -> bool:
    """A lone abbreviation of three letters or fewer ("US", "U.S.", "UK"): pages spell it out
    ("American") far more often than they repeat it, so it says little about coverage."""
    return len(words) == 1 and len(re.sub(r"[\W_]", "", words[0])) <= 3


def _shouting(question: str) -> bool:
    letters = [ch for ch in question if ch.isalpha()]
    return len(letters) >= 8 and sum(ch.isupper() for ch in letters) > 0.6 * len(letters)


def question_names(question: str) -> list[tuple[str, ...]]:
    """The names a question uses, as word tuples, in order, once each."""
    if _shouting(question):
        return []
    found: list[list[str]] = [m.group(1).split() for m in _QUOTED.finditer(question)]
    current: list[str] = []

    def close() -> None:
        name = _trim(current)
        if name:
            found.append(name)
        current.clear()

    for token in _TOKEN.findall(question):
        word = _POSSESSIVE.sub("", token)
        if word[:1].isupper() or (current and word[:1].isdigit()):
            current.append(word)
            if word != token:  # "New Jersey's Morris Canal" is two names
                close()
        elif current and token.casefold() in CONNECTIVES:
            current.append(token)
        else:
            close()
    close()
    names: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for words in found:
        key = fold(" ".join(words))
        if key and key not in seen and key not in _NOT_NAMES and key not in _NOT_ALONE and not _too_short(words):
            seen.add(key)
            names.append(tuple(words))
    return names


def _mentioned(phrase: str, texts: list[str]) -> bool:
    padded = f" {phrase} "
    return any(padded in text for text in texts)


def is_covered(name: tuple[str, ...], texts: list[str]) -> bool:
    """Whether the folded ``texts`` (each padded with spaces) mention ``name`` (see the module
    docstring for the leniency)."""
    phrase = fold(" ".join(name))
    if not phrase or _mentioned(phrase, texts):
        return True
    for i in range(1, len(name) - 1):
        if name[i].casefold() in _SPLIT_AT:
            left, right = tuple(_trim(list(name[:i]))), tuple(_trim(list(name[i + 1:])))
            if left and right and is_covered(left, texts) and is_covered(right, texts):
                return True
    content = [w for w in name if w.casefold() not in CONNECTIVES]
    if len(content) >= 3 and not any(w.casefold() in _SPLIT_AT for w in name):
        for shorter in (name[1:], name[:-1]):
            trimmed = tuple(_trim(list(shorter)))
            if len([w for w in trimmed if w.casefold() not in CONNECTIVES]) >= 2 and is_covered(trimmed, texts):
                return True
    return False


def _content(text: str) -> set[str]:
    return {w for w in fold(text).split() if w not in CONNECTIVES}


def names_page(title: str, query: str) -> bool:
    """Whether a page titled ``title`` is about the name searched for as ``query``: the
    words of one are all among the other's (a parenthesised qualifier, "Tenet (film)", is
    left out). A search for a bare name also returns pages that only mention it."""
    page, name = _content(short_name(title)), _content(query)
    return bool(page) and bool(name) and (page <= name or name <= page)


def passage_texts(passages: Iterable[Passage]) -> list[str]:
    """Folded, space-padded title + text of each passage, for :func:`is_covered`."""
    return [f" {fold(p.title + ' ' + p.text)} " for p in passages]


def missing_query(name: tuple[str, ...], texts: list[str]) -> str:
    """A search query for an uncovered name: the parts of it that no passage mentions."""
    parts: list[list[str]] = [[]]
    for word in name:
        if word.casefold() in _SPLIT_AT:
            parts.append([])
        else:
            parts[-1].append(word)
    unseen = [" ".join(p) for p in parts if p and not is_covered(tuple(p), texts)]
    return " ".join(unseen) if unseen else " ".join(name)


def uncovered_names(question: str, passages: Iterable[Passage], titled: Iterable[Passage] = ()) -> list[str]:
    """Search queries for the question's names that no passage mentions, in question order.

    ``passages`` cover a name by mentioning it anywhere; ``titled`` ones only by their title.
    EvidenceLoop passes the passages its searches for the question found as ``passages`` and
    those a search for a bare name found as ``titled``: a page that merely mentions "Morris
    Canal" is what any search for it returns, and says nothing about the canal."""
    names = question_names(question)
    if not names:
        return []
    texts = passage_texts(passages) + [f" {fold(p.title)} " for p in titled]
    return [missing_query(n, texts) for n in names if not is_covered(n, texts)]


__all__ = ["CONNECTIVES", "fold", "is_covered", "missing_query", "names_page", "passage_texts", "question_names",
           "uncovered_names"]
