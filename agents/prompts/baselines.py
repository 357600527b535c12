"""Prompts of the baselines (no-retrieval, standard-rag) and of the adaptive gate's draft.

Few-shot with one-line answers: a 0.5B model copies the format of worked examples far more
reliably than it follows a rule. The assistant turn is pre-filled with ``Answer:`` and
generation stops at the end of the line.

``baselines/2`` adds the reasoned reader (``ReaderOptions.reason_first``): one line of
reasoning over the documents, then the answer line. The short prompts are unchanged.
"""

from __future__ import annotations

VERSION = "baselines/2"

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


REASONING_START = "Reasoning:"

REASONED_STOP = ["\n\n", "\nQuestion:", "\nExample"]

REASONED_WITH_DOCUMENTS = """Answer the question using the documents. First write one line of reasoning \
that states the facts from the documents that lead to the answer. Then write the answer line with \
only the short answer: a name, a date, a number, or yes or no.

Example
Documents:
Doc 1 (Title: Inception) Inception is a 2010 science fiction film written and directed by Christopher Nolan.
Doc 2 (Title: Christopher Nolan) Christopher Edward Nolan (born 30 July 1970) is a British and American filmmaker. He was born in London.
Question: In which city was the director of Inception born?
Reasoning: Inception was directed by Christopher Nolan, and Christopher Nolan was born in London.
Answer: London

Example
Documents:
Doc 1 (Title: Albert Einstein) Albert Einstein (14 March 1879 - 18 April 1955) was a German-born theoretical physicist.
Doc 2 (Title: Niels Bohr) Niels Henrik David Bohr (7 October 1885 - 18 November 1962) was a Danish physicist.
Question: Who was born first, Albert Einstein or Niels Bohr?
Reasoning: Albert Einstein was born in 1879 and Niels Bohr in 1885, so Einstein was born first.
Answer: Albert Einstein

Now the real question.
Documents:
{documents}
Question: {question}"""


def direct_message(question: str) -> str:
    return DIRECT.format(question=question)


def documents_message(question: str, documents: str) -> str:
    return WITH_DOCUMENTS.format(question=question, documents=documents or "(no documents found)")


def reasoned_documents_message(question: str, documents: str) -> str:
    return REASONED_WITH_DOCUMENTS.format(question=question, documents=documents or "(no documents found)")
