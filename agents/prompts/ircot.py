"""IRCoT prompt (Trivedi et al., 2023): paragraphs, then a question answered by a chain of
thought that ends with "So the answer is: ...". The model writes one sentence per step; the
sentence becomes the next retrieval query. Two worked examples teach the format."""

from __future__ import annotations

VERSION = "ircot/1"

SYSTEM = "You are a careful assistant. You reason step by step, one short sentence at a time."

EXAMPLES = """Wikipedia Title: Inception
Inception is a 2010 science fiction action film written and directed by Christopher Nolan.

Wikipedia Title: Christopher Nolan
Christopher Edward Nolan (born 30 July 1970) is a British and American filmmaker. Born and raised in London, England, Nolan developed an interest in filmmaking from a young age.

Q: In which country was the director of the film Inception born?
A: Inception was directed by Christopher Nolan. Christopher Nolan was born in London, England. So the answer is: United Kingdom.

Wikipedia Title: Albert Einstein
Albert Einstein (14 March 1879 - 18 April 1955) was a German-born theoretical physicist.

Wikipedia Title: Niels Bohr
Niels Henrik David Bohr (7 October 1885 - 18 November 1962) was a Danish physicist.

Q: Who was born first, Albert Einstein or Niels Bohr?
A: Albert Einstein was born in 1879. Niels Bohr was born in 1885. 1879 is before 1885. So the answer is: Albert Einstein."""

USER = """Answer the question by reasoning step by step with the Wikipedia paragraphs. End with "So the answer is:" and the short answer (a name, a date, a number, or yes or no).

{examples}

{paragraphs}

Q: {question}"""

ANSWER_CUE = "So the answer is:"

STOP = ["\n", "Q:", "Wikipedia Title:"]


def paragraphs(items: list[tuple[str, str]]) -> str:
    """``Wikipedia Title: ...`` blocks for ``(title, text)`` pairs."""
    if not items:
        return "(no paragraphs found)"
    return "\n\n".join(f"Wikipedia Title: {title}\n{text}" for title, text in items)


def user_message(question: str, items: list[tuple[str, str]]) -> str:
    return USER.format(examples=EXAMPLES, paragraphs=paragraphs(items), question=question)


def assistant_prefix(cot: list[str]) -> str:
    return " ".join(["A:", *cot])
