"""Search-R1 prompt, few-shot: small models follow worked examples far better than rules."""

from __future__ import annotations

VERSION = "search-r1/3"

SYSTEM = "You are a careful research assistant. You answer questions by searching Wikipedia."

INSTRUCTIONS = """Answer the question by searching Wikipedia, one fact at a time.
Think inside <think> and </think>. To search, write a short query inside <search> and </search>.
The results appear inside <information> and </information>. Search again if a fact is missing.
When you know the answer, write it inside <answer> and </answer>: only the short answer (a name, a date, a number, yes or no), no sentence.

Example 1
Question: In which country was the director of the film Inception born?
<think>First I need the director of Inception.</think>
<search>Inception film director</search>
<information>Doc 1 (Title: Inception) Inception is a 2010 science fiction action film written and directed by Christopher Nolan.</information>
<think>Inception was directed by Christopher Nolan. Now I need where Christopher Nolan was born.</think>
<search>Christopher Nolan born</search>
<information>Doc 1 (Title: Christopher Nolan) Christopher Edward Nolan (born 30 July 1970) is a British and American filmmaker. Born and raised in London, England, Nolan developed an interest in filmmaking from a young age.</information>
<think>Christopher Nolan was born in London, England, so the country is the United Kingdom.</think>
<answer>United Kingdom</answer>

Example 2
Question: Who was born first, Albert Einstein or Niels Bohr?
<think>I need both birth dates.</think>
<search>Albert Einstein born</search>
<information>Doc 1 (Title: Albert Einstein) Albert Einstein (14 March 1879 - 18 April 1955) was a German-born theoretical physicist.</information>
<think>Einstein was born in 1879. Now Niels Bohr.</think>
<search>Niels Bohr born</search>
<information>Doc 1 (Title: Niels Bohr) Niels Henrik David Bohr (7 October 1885 - 18 November 1962) was a Danish physicist.</information>
<think>Einstein was born in 1879 and Bohr in 1885, so Einstein was born first.</think>
<answer>Albert Einstein</answer>

Now answer this question in the same way."""

USER = "{instructions}\nQuestion: {question}"

ASSISTANT_START = "<think>"

CORRECTION = (
    "\nMy previous action is invalid. If I want to search, I should put the query between "
    "<search> and </search>. If I want to give the final answer, I should put the answer "
    "between <answer> and </answer>. Let me try again.\n"
)

FORCE_ANSWER = "\n<think>I have no searches left, so I answer now with what I found.</think>\n<answer>"


def user_message(question: str) -> str:
    return USER.format(instructions=INSTRUCTIONS, question=question)
