"""MCTS-RAG prompts: one instruction per action over a shared worked example.

Every prompt shows the question and the steps of the current tree path; the assistant turn
is pre-filled with the label of the step to write (``Step 3:``, ``Sub-question 2:``,
``So the answer is:``), so a small model only has to complete one line.
"""

from __future__ import annotations

VERSION = "mcts-rag/4"

SYSTEM = "You are a careful assistant. You solve questions step by step and answer briefly."

EXAMPLE = """Example of the format
Question: In which country was the director of the film Inception born?
Step 1: The film Inception was directed by Christopher Nolan.
Sub-question 2: Where was Christopher Nolan born?
Answer 2: London, England.
Step 3: London is in England, which is part of the United Kingdom.
So the answer is: United Kingdom"""

_SHORT = "The short answer is a name, a date, a number, or yes or no, not a sentence."

INSTRUCTIONS = {
    "quick_reasoning": "Write the next reasoning step toward the answer: one short sentence that "
    "states a fact or a deduction, not a plan.",
    "subquestion": "Ask the next simple sub-question whose answer brings you closer to the answer.",
    "subanswer": "Answer the last sub-question in a few words.",
    "retrieval_reasoning": "Use the documents to write the next reasoning step toward the "
    "answer: one short sentence that states the fact you found (who, what, when or where), "
    "not a plan.",
    "retrieval_subanswer": "Use the documents to answer the last sub-question in a few words.",
    "direct_answer": f"Give the final answer to the question. {_SHORT}",
    "summarised_answer": "Summarise in one sentence what the steps and the documents establish "
    f"about the question, then give the final answer. {_SHORT}",
}

USER = """{instruction}

{example}

{documents}Question: {question}
{steps}"""

LABELS = {
    "quick_reasoning": "Step {k}:",
    "retrieval_reasoning": "Step {k}:",
    "subquestion": "Sub-question {k}:",
    "subanswer": "Answer {k}:",
    "retrieval_subanswer": "Answer {k}:",
    "direct_answer": "So the answer is:",
    "summarised_answer": "Summary:",
}

STOP_LINE = ["\n"]


def user_message(kind: str, question: str, steps: str, documents: str = "") -> str:
    docs = f"Documents:\n{documents}\n\n" if documents else ""
    return USER.format(instruction=INSTRUCTIONS[kind], example=EXAMPLE, documents=docs,
                       question=question, steps=steps).rstrip() + "\n"


def label(kind: str, k: int) -> str:
    return LABELS[kind].format(k=k)
