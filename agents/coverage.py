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
  without connectives, leading words may go, down to two words, or the last word: ranks and
  demonyms, "Mexican Alejandro Springall", "George Archainbaud American"), but only by a page
  of that name: "Regional Airport" in some text says nothing about "Aberdeen Regional
  Airport", and "Lieutenant colonel" is not the man;
- years and numbers at a name's edge are not part of it ("1991 Euromarché");
- a place is covered by its adjective: "Russia" by "a Russian mathematician", "France" by
  "French" (:func:`demonyms`);
- a middle initial stands for a name it begins: "Robert C Seger" is covered by "Robert Clark
  Seger";
- a final "s" may be an apostrophe's: "J.B. Scotts" is covered by "J.B. Scott's".

Questions written in capitals have no names to read; they pass.

Coverage alone lets an answer through when every name is mentioned somewhere, even by
passages that have nothing to do with the answer: "What series was Emily Bergl in that is
set in Chicago?" answered "Happy Campers" because a film page mentions Emily Bergl and a
book page mentions Chicago. :func:`unconnected_names` asks more: each name must be mentioned
near the answer, in a passage that contains it or one title-linked to such a passage (the
page the bridge passage names, or a passage naming the answer's page). And an answer that
only repeats the question's one name ("Where did this dish emerge ... in New Jersey?" → "New
Jersey") answers nothing (:func:`echoes_question`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterable

from sleuth.agents.answers import YES_NO
from sleuth.agents.evidence import normalize_answer
from sleuth.agents.ledger import answer_in_passage
from sleuth.sandboxes.links import short_name
from sleuth.types import Passage

CONNECTIVES = frozenset(
    ["of", "the", "and", "de", "la", "le", "du", "des", "von", "van", "der", "den", "for", "in",
     "on", "a", "an", "&", "at", "to", "del", "y", "da", "di"]
)
"""Lower-case words that may sit inside a name ("Bank of England", "Basset Bleu de Gascogne")."""

_SPLIT_AT = frozenset(["and", "in", "of", "the", "for", "on", "at", "to"])
"""Connectives at which a name may be two names ("Ian Brown and Dee Snider", "X in Ohio").
Not "&": it joins titles ("Simon & Simon", "Law & Order"), whose halves any page mentions."""

_NOT_NAMES = frozenset(
    ["which", "what", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
     "were", "did", "do", "does", "in", "the", "a", "an", "of", "on", "at", "for", "this", "that",
     "these", "those", "as", "by", "from", "both", "name", "if", "with", "or", "during", "between",
     "after", "before", "since", "although", "while", "besides", "other", "than", "not", "has",
     "have", "had", "can", "could", "will", "would", "i", "it", "its", "there", "he", "she",
     "they", "his", "her", "their"]
)
"""Capitalised only because they start the sentence (or are "I"): never a name's edge."""

_MONTHS = frozenset(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"]
)

_OPENERS = frozenset(
    ["near", "one", "two", "three", "some", "many", "most", "all", "each", "every", "former", "only",
     "among", "despite", "though", "about", "over", "under", "according", "located", "born", "based",
     "also", "then", "there", "here"]
)
"""Common sentence openers ("One of ...", "Some of the ..."): capitalised only by their place."""

_NOT_ALONE = _MONTHS | _OPENERS
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
                      or _is_number(tokens[0]) or _opens_a_part(tokens)):
        tokens = tokens[1:]
    return tokens


def _opens_a_part(tokens: list[str]) -> bool:
    """A sentence opener that picks out part of a name: "One of Fingerprint File's ...",
    "Some of the Beatles" (but "May of Teck" keeps its month: months may be names)."""
    return len(tokens) >= 2 and tokens[0].casefold() in _OPENERS and tokens[1].casefold() in CONNECTIVES


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


_DEMONYMS = {
    "britain": ["british"], "great britain": ["british"], "united kingdom": ["british"],
    "united states": ["american"], "england": ["english"], "scotland": ["scottish", "scots"],
    "ireland": ["irish"], "wales": ["welsh"], "france": ["french"], "germany": ["german"],
    "netherlands": ["dutch"], "holland": ["dutch"], "spain": ["spanish"], "portugal": ["portuguese"],
    "poland": ["polish"], "sweden": ["swedish"], "denmark": ["danish"], "finland": ["finnish"],
    "norway": ["norwegian"], "iceland": ["icelandic"], "greece": ["greek"], "switzerland": ["swiss"],
    "turkey": ["turkish"], "thailand": ["thai"], "philippines": ["filipino", "philippine"],
    "peru": ["peruvian"], "belgium": ["belgian"], "chile": ["chilean"], "ukraine": ["ukrainian"],
    "lebanon": ["lebanese"], "soviet union": ["soviet"], "new zealand": ["new zealander"],
    "china": ["chinese"], "japan": ["japanese"], "vietnam": ["vietnamese"], "taiwan": ["taiwanese"],
    "malta": ["maltese"], "israel": ["israeli"], "iraq": ["iraqi"], "pakistan": ["pakistani"],
    "bangladesh": ["bangladeshi"], "kuwait": ["kuwaiti"], "yemen": ["yemeni"], "nepal": ["nepali", "nepalese"],
    "argentina": ["argentine", "argentinian"], "canada": ["canadian"], "brazil": ["brazilian"],
    "egypt": ["egyptian"], "iran": ["iranian"], "mexico": ["mexican"], "morocco": ["moroccan"],
    "italy": ["italian"], "hungary": ["hungarian"], "sicily": ["sicilian"], "texas": ["texan"],
    "paris": ["parisian"], "cuba": ["cuban"], "asia": ["asian"],
}
"""Places and what pages call their people or things ("Were both ... mathematicians from
Russia?" is answered by pages on "a Russian mathematician"). Names ending in "-a" need no
entry: "Russia", "Australia", "Korea", "California" take "-n"."""

_ALL_DEMONYMS = frozenset(a for adjectives in _DEMONYMS.values() for a in adjectives)


def demonyms(name: tuple[str, ...]) -> list[str]:
    """The folded adjectives of a place name: :data:`_DEMONYMS`, else "-a" + "n" for a name
    of one or two words whose last word has five letters or more ("South Korea" → "south
    korean"). Empty for anything else: "Bria" is not "Brian"."""
    return _adjectives(fold(" ".join(name)))


def _adjectives(key: str) -> list[str]:
    """:func:`demonyms` of a name already folded."""
    if key in _DEMONYMS:
        return _DEMONYMS[key]
    words = key.split()
    if 1 <= len(words) <= 2 and len(words[-1]) >= 5 and words[-1].endswith("a"):
        return [f"{key}n"]
    return []


def _variants_pattern(phrase: str) -> re.Pattern[str] | None:
    """For a folded name written one way where pages may write it another: a pattern in which
    a one-letter word between others stands for any word it begins ("robert c seger" matches
    "robert clark seger"), and a word ending in "s" may have its "s" split off, as folding
    splits an apostrophe ("j b scotts" matches "J.B. Scott's"). None when no word varies."""
    words = phrase.split()
    parts: list[str] = []
    for i, w in enumerate(words):
        if len(w) == 1 and w.isalpha() and 0 < i < len(words) - 1:
            parts.append(f"{w}\\w*")
        elif len(w) >= 4 and w.endswith("s"):
            parts.append(f"{re.escape(w[:-1])} ?s")
        else:
            parts.append(re.escape(w))
    if parts == [re.escape(w) for w in words]:
        return None
    return re.compile(" " + " ".join(parts) + " ")


def is_demonym(key: str) -> bool:
    """Whether a folded name is a place's adjective ("australian", "irish", "south korean"):
    a description, not a thing that has a page of its own."""
    return key in _ALL_DEMONYMS or (key.endswith("n") and _adjectives(key[:-1]) == [key])


def is_covered(name: tuple[str, ...], texts: list[str], titles: Collection[str] | None = None) -> bool:
    """Whether the folded ``texts`` (each padded with spaces) mention ``name`` (see the module
    docstring for the leniency). With ``titles`` (folded page names, see :func:`title_keys`), a
    shortened name counts only when it is one of them: "Regional Airport" is no
    page, and a passage that mentions it is not about "Aberdeen Regional Airport"."""
    phrase = fold(" ".join(name))
    if not phrase or _mentioned(phrase, texts) or any(_mentioned(a, texts) for a in _adjectives(phrase)):
        return True
    variants = _variants_pattern(phrase)
    if variants is not None and any(variants.search(text) for text in texts):
        return True
    for i in range(1, len(name) - 1):
        if name[i].casefold() in _SPLIT_AT:
            left, right = tuple(_trim(list(name[:i]))), tuple(_trim(list(name[i + 1:])))
            if left and right and is_covered(left, texts, titles) and is_covered(right, texts, titles):
                return True
    if any(w.casefold() in _SPLIT_AT for w in name):
        return False
    shorter_forms = [_trim(list(name[start:])) for start in range(1, len(name))] + [_trim(list(name[:-1]))]
    for shorter in shorter_forms:
        if len([w for w in shorter if w.casefold() not in CONNECTIVES]) >= 2:
            key = fold(" ".join(shorter))
            if key in titles if titles is not None else _mentioned(key, texts):
                return True
    return False


def title_keys(passages: Iterable[Passage]) -> frozenset[str]:
    """The folded page names (titles without disambiguation) of ``passages``."""
    return frozenset(fold(short_name(p.title)) for p in passages)


def _content(text: str) -> set[str]:
    return {w for w in fold(text).split() if w not in CONNECTIVES}


def names_page(title: str, query: str) -> bool:
    """Whether a page titled ``title`` is about the name searched for as ``query``: the
    words of one are all among the other's (a parenthesised qualifier, "Tenet (film)", is
    left out). A page named by fewer words must keep the name's last one ("Donald Swain
    Lewis" for "Lieutenant Colonel Donald Swain Lewis", not "Lieutenant colonel"), and a
    one-word name must be the page's whole name ("Joe Gander" is not "Gander"). A search for a
    bare name also returns pages that only mention it."""
    page, name = _content(short_name(title)), _content(query)
    if not page or not name:
        return False
    if page < name:
        return [w for w in fold(query).split() if w not in CONNECTIVES][-1] in page
    if name < page:
        return len(name) >= 2
    return page == name


def passage_texts(passages: Iterable[Passage]) -> list[str]:
    """Folded, space-padded title + text of each passage, for :func:`is_covered`."""
    return [f" {fold(p.title + ' ' + p.text)} " for p in passages]


def _split(name: tuple[str, ...], at: Collection[str]) -> list[list[str]]:
    """``name``'s words between the connectives in ``at``, empty parts left out."""
    parts: list[list[str]] = [[]]
    for word in name:
        if word.casefold() in at:
            parts.append([])
        else:
            parts[-1].append(word)
    return [part for part in parts if part]


def missing_query(name: tuple[str, ...], texts: list[str], titles: Collection[str] | None = None) -> str:
    """A search query for an uncovered name: the parts of it that no passage mentions."""
    unseen = [" ".join(p) for p in _split(name, _SPLIT_AT) if not is_covered(tuple(p), texts, titles)]
    return " ".join(unseen) if unseen else " ".join(name)


def _uncovered(names: list[tuple[str, ...]], passages: list[Passage], titled: list[Passage]) -> list[str]:
    texts = _texts(passages, titled)
    titles = title_keys(passages + titled)
    return [missing_query(n, texts, titles) for n in names if not is_covered(n, texts, titles)]


def uncovered_names(question: str, passages: Iterable[Passage], titled: Iterable[Passage] = ()) -> list[str]:
    """Search queries for the question's names that no passage mentions, in question order.

    ``passages`` cover a name by mentioning it anywhere; ``titled`` ones only by their title.
    EvidenceLoop passes the passages its searches for the question found as ``passages`` and
    those a search for a bare name found as ``titled``: a page that merely mentions "Morris
    Canal" is what any search for it returns, and says nothing about the canal."""
    names = question_names(question)
    return _uncovered(names, list(passages), list(titled)) if names else []


def unpaged_names(question: str, passages: Iterable[Passage]) -> list[str]:
    """The question's names that no passage read has as its page name (with the leniency of
    :func:`is_covered`: "Donald Swain Lewis" is the page of "Lieutenant Colonel Donald Swain
    Lewis", and "Ian Brown and Dee Snider" needs a page for each).

    A name that passages only mention in passing is known second-hand. With the gold evidence
    of a sandbox question masked, that is what is left: the pages the question names are
    gone, and its other paragraphs mention them. EvidenceLoop's ``verify="hybrid"`` asks the
    judge about an answer only then. A place's adjective ("Which Australian producer ...")
    describes; it has no page to read and is left out."""
    names = question_names(question)
    if not names:
        return []
    shown = list(passages)
    texts, titles = _texts([], shown), title_keys(shown)  # every passage counts by its title only
    return [" ".join(n) for n in names if not is_demonym(fold(" ".join(n))) and not is_covered(n, texts, titles)]


def _title_key(passage: Passage) -> str:
    key = fold(short_name(passage.title))
    return key if len(key) >= 4 else ""  # "It", "Up": too short to count as a link


def _links(a: Passage, b: Passage, folded: dict[str, str]) -> bool:
    """Whether either passage's text names the other's page."""
    ka, kb = _title_key(a), _title_key(b)
    return bool(kb and f" {kb} " in folded[a.id]) or bool(ka and f" {ka} " in folded[b.id])


def echoes_question(question: str, answer: str) -> bool:
    """Whether ``answer`` only repeats the question: it is the one name the question uses
    ("Where did this dish emerge ... in New Jersey?" → "New Jersey"). A question that names
    two things may be asking which of them ("Between Amazing Stories and Aquarium Fish
    International, which ...?"), so repeating one of those is an answer."""
    names = question_names(question)
    return len(names) == 1 and bool(fold(answer)) and fold(answer) == fold(" ".join(names[0]))


def unconnected_names(question: str, answer: str, passages: Iterable[Passage],
                      titled: Iterable[Passage] = ()) -> list[str]:
    """The question's names that passages read mention, but none near ``answer``.

    Near means: a passage that contains the answer, or one whose text names such a passage's
    page or whose page such a passage names (one link). ``passages`` and ``titled`` count as in
    :func:`uncovered_names`, and names no passage mentions are left to it. Nothing is checked
    for yes/no answers, for an answer that is (part of) one of the question's names (a
    comparison: the other option is not near it), or when no passage contains the answer (the
    string check fails that). A name that is two names ("the Austrian Pinscher and the Maremma
    Sheepdog") is near when either is."""
    names = question_names(question)
    norm = fold(answer)
    if not names or not norm or normalize_answer(answer) in YES_NO:
        return []
    if any(norm in fold(" ".join(n)) or fold(" ".join(n)) in norm for n in names):
        return []
    mention, by_title = list(passages), list(titled)
    everything = mention + by_title
    holders = [p for p in everything if answer_in_passage(answer, p)]
    if not holders:
        return []
    folded = {p.id: f" {fold(p.title + ' ' + p.text)} " for p in everything}
    near_ids = {p.id for p in holders} | {p.id for p in everything if any(_links(p, h, folded) for h in holders)}
    near_mention = [p for p in mention if p.id in near_ids]
    near_titled = [p for p in by_title if p.id in near_ids]
    def texts_of(shown: list[Passage], titled_only: list[Passage]) -> list[str]:  # as _texts, folding each once
        return [folded[p.id] for p in shown] + [f" {fold(p.title)} " for p in titled_only]

    texts, titles = texts_of(mention, by_title), title_keys(everything)
    near_texts, near_titles = texts_of(near_mention, near_titled), title_keys(near_mention + near_titled)
    opener = _TOKEN.findall(question)[:1]
    far: list[str] = []
    for name in names:
        if list(name) == opener or not is_covered(name, texts, titles):
            continue  # a lone first word may be no name; an unmentioned name is coverage's to find
        parts = _parts(name)
        if not any(is_covered(tuple(part), near_texts, near_titles) for part in parts if len(parts) > 1) \
                and not is_covered(name, near_texts, near_titles):
            far.append(" ".join(" ".join(part) for part in parts))
    return far


def _texts(passages: list[Passage], titled: list[Passage]) -> list[str]:
    return passage_texts(passages) + [f" {fold(p.title)} " for p in titled]


def _parts(name: tuple[str, ...]) -> list[list[str]]:
    """``name`` split at "and": ["Austrian Pinscher", "Maremma Sheepdog"] (connectives at
    the parts' edges dropped)."""
    return [trimmed for part in _split(name, ("and",)) if (trimmed := _trim(part))]


__all__ = ["CONNECTIVES", "demonyms", "echoes_question", "fold", "is_covered", "missing_query", "names_page",
           "passage_texts", "question_names", "title_keys", "unconnected_names", "uncovered_names", "unpaged_names"]
