"""EvidenceLoop prompts: evidence notes (after EviNote-RAG), a draft answer from the notes
and the passages read so far, a yes/no support judgement, and the query for the missing hop.

Each prompt shows one worked example and pre-fills the start of the expected output, so a
small model only continues a fixed format.
"""

from __future__ import annotations

VERSION = "evidence-loop/2"
"""2: the draft reads the passages as well as the notes (1: the notes alone)."""

SYSTEM = "You are a careful research assistant. You only trust facts written in documents."

NOTE = """Read the documents and write notes for the question.
Under "Key facts:" list the facts from the documents that help answer the question, one per line, each starting with the document it comes from, like "- [Doc 2] ...".
Under "Uncertain:" list facts that may help but are unclear.
If no document helps, write only "No useful evidence."

Example
Question: In which country was the director of the film Inception born?
Documents:
Doc 1 (Title: Inception) Inception is a 2010 science fiction action film written and directed by Christopher Nolan.
Doc 2 (Title: Interstellar) Interstellar is a 2014 epic science fiction film.
Key facts:
- [Doc 1] Inception was directed by Christopher Nolan.
Uncertain:
- none

Now the real question.
Question: {question}
Documents:
{documents}"""

NOTE_START = "Key facts:\n-"
NOTE_STOP = ["\n\n\n", "Question:", "Documents:"]

DRAFT = """Answer the question using only the facts. Give only the short answer: a name, a date, a number, or yes or no. If the facts do not contain the answer, write "unknown".

Example
Facts:
1. Inception was directed by Christopher Nolan.
2. Christopher Nolan was born in London, England.
Question: In which city was the director of Inception born?
Answer: London

Now the real question.
Facts:
{facts}
Question: {question}"""

DRAFT_WITH_DOCUMENTS = """Answer the question using the documents and the notes. Give only the short answer: a name, a date, a number, or yes or no. If they do not contain the answer, write "unknown".

Example
Documents:
Doc 1 (Title: Inception) Inception is a 2010 science fiction film written and directed by Christopher Nolan.
Doc 2 (Title: Christopher Nolan) Christopher Edward Nolan (born 30 July 1970) is a British and American filmmaker. He was born in London.
Notes:
1. Inception was directed by Christopher Nolan.
2. Christopher Nolan was born in London.
Question: In which city was the director of Inception born?
Answer: London

Now the real question.
Documents:
{documents}
Notes:
{facts}
Question: {question}"""

DRAFT_START = "Answer:"

JUDGE = """Do the facts show that the proposed answer to the question is correct? Reply "yes" or "no".

Example 1
Facts:
1. Inception was directed by Christopher Nolan.
2. Christopher Nolan was born in London, England.
Question: In which city was the director of Inception born?
Proposed answer: London
Supported: yes

Example 2
Facts:
1. Inception was directed by Christopher Nolan.
Question: In which city was the director of Inception born?
Proposed answer: London
Supported: no

Now the real case.
Facts:
{facts}
Question: {question}
Proposed answer: {answer}"""

JUDGE_START = "Supported:"

PLAN = """Some information needed to answer the question is missing. Write one short search query for the missing fact.

Example
Question: In which city was the director of Inception born?
Facts:
1. Inception was directed by Christopher Nolan.
Next search query: Christopher Nolan birthplace

Now the real question.
Question: {question}
Facts:
{facts}
Queries already tried: {tried}"""

PLAN_START = "Next search query:"

LINE_STOP = ["\n"]


def note_message(question: str, documents: str) -> str:
    return NOTE.format(question=question, documents=documents or "(no documents found)")


def draft_message(question: str, facts: str, documents: str = "") -> str:
    """The draft's prompt: from the notes alone when no documents are given."""
    if documents:
        return DRAFT_WITH_DOCUMENTS.format(question=question, facts=facts or "(none)", documents=documents)
    return DRAFT.format(question=question, facts=facts or "(none)")


def judge_message(question: str, facts: str, answer: str) -> str:
    return JUDGE.format(question=question, facts=facts or "(none)", answer=answer)


def plan_message(question: str, facts: str, tried: list[str]) -> str:
    return PLAN.format(question=question, facts=facts or "(none)", tried="; ".join(tried) or "none")
