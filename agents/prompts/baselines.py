"""Prompts of the baselines (no-retrieval, standard-rag) and of the adaptive gate's draft.

Few-shot with one-line answers: a 0.5B model copies the format of worked examples far more
reliably than it follows a rule. The assistant turn is pre-filled with ``Answer:`` and
generation stops at the end of the line.
"""

from __future__ import annotations

VERSION = "baselines/1"

SYSTEM = "You are a careful assistant. You answer questions with a short answer only."

ASSISTANT_START = "Answer:"

STOP = ["\n"]

_SHORT_RULE = (
    "Give only the short answer: a name, a date, a number, or yes or no. Do not write a sentence."
)

DIRECT = f"""Answer the question from your own knowledge. {_SHORT_RULE}

Question: In which country was the director of the film Inception born?
Answer: United Kingdom

Question: Who was born first, Albert Einstein or Niels Bohr?
Answer: Albert Einstein

Question: Are the Eiffel Tower and the Louvre in the same city?
Answer: yes

Question: {{question}}"""

WITH_DOCUMENTS = f"""Answer the question using the documents. {_SHORT_RULE}

Example
Documents:
Doc 1 (Title: Inception) Inception is a 2010 science fiction film written and directed by Christopher Nolan.
Doc 2 (Title: Christopher Nolan) Christopher Edward Nolan (born 30 July 1970) is a British and American filmmaker. He was born in London.
Question: In which city was the director of Inception born?
Answer: London

Now the real question.
Documents:
{{documents}}
Question: {{question}}"""


def direct_message(question: str) -> str:
    return DIRECT.format(question=question)


def documents_message(question: str, documents: str) -> str:
    return WITH_DOCUMENTS.format(question=question, documents=documents or "(no documents found)")
