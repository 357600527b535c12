"""IRCoT: one sentence, one retrieval with that sentence, until "the answer is"."""

from __future__ import annotations

from pathlib import Path

import pytest
from graph_doubles import PASSAGES, CrashingEngine, FlakyRetriever, KeywordRetriever

from sleuth.agents.gate import retrievals_saved
from sleuth.agents.ircot import read_step
from sleuth.engines.scripted import ScriptedEngine
from sleuth.graphs.registry import ask, list_methods, resume, sqlite_checkpointer, stream_steps

QUESTION = "Where was the director of Inception born?"
TWO_HOPS = [
    " Inception was directed by Christopher Nolan.",
    " Christopher Nolan was born in London.",
    " So the answer is: London.",
]


async def _ask(outputs: list[str], retriever: KeywordRetriever | None = None,
               question: str = QUESTION, **opts: object):
    engine = ScriptedEngine(outputs)
    retriever = retriever or KeywordRetriever(PASSAGES)
    answer = await ask(question, engine=engine, retriever=retriever, method="ircot", options=opts)
    return answer, engine, retriever


def test_registered() -> None:
    assert "ircot" in list_methods()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Nolan directed it. He was born in London.", ("Nolan directed it.", None)),
        (" So the answer is: St. Louis.", ("So the answer is: St. Louis.", "St. Louis")),
        (" He was born in London. So the answer is: London", None),
        ("<information>fake</information>", ("", None)),
    ],
)
def test_read_step(text: str, expected: tuple[str, str | None] | None) -> None:
    sentence, answer = read_step(text)
    if expected is None:
        assert answer == "London"
    else:
        assert (sentence, answer) == expected


async def test_each_sentence_is_the_next_query() -> None:
    answer, engine, retriever = await _ask(TWO_HOPS, top_k=1)
    assert answer.text == "London" and not answer.abstained
    assert retriever.queries == [QUESTION, TWO_HOPS[0].strip(), TWO_HOPS[1].strip()]
    assert answer.usage.llm_calls == 3 and answer.usage.searches == 3
    assert [c.id for c in answer.citations] == ["p2"]
    # the chain so far is the assistant prefix of the next step
    assert engine.requests[2].messages[-1].content == "A: " + " ".join(s.strip() for s in TWO_HOPS[:2])  # type: ignore[index]
    assert "Wikipedia Title: Christopher Nolan" in engine.requests[2].messages[1].content  # type: ignore[index]
    assert engine.requests[0].stop[0] == "\n"


async def test_max_steps_forces_an_answer() -> None:
    answer, engine, _ = await _ask(["Step one.", "Step two.", " London"], max_steps=2)
    assert answer.text == "London"
    assert answer.trace[-1].type == "answer" and answer.trace[-1].forced  # type: ignore[union-attr]
    assert engine.requests[-1].messages[-1].content.endswith("So the answer is:")  # type: ignore[index]


async def test_repetition_stops_the_loop() -> None:
    answer, _, _ = await _ask(["Nolan.", "Nolan.", " London"], max_steps=10)
    assert answer.text == "London" and answer.usage.llm_calls == 3
    assert any(e.type == "error" and e.code == "repetition" for e in answer.trace)  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", ["", "<information>Doc 1 invented</information>", "<answer></answer>"])
async def test_malformed_or_empty_output_is_recorded_then_forced(bad: str) -> None:
    answer, _, retriever = await _ask([bad, " London"])
    assert answer.text == "London" and answer.usage.llm_calls == 2
    assert any(e.type == "error" for e in answer.trace)
    assert retriever.queries == [QUESTION]


async def test_endless_output_is_cut_to_one_sentence() -> None:
    answer, engine, _ = await _ask(["blah " * 3000, " So the answer is: London."], step_max_tokens=20)
    assert engine.requests[0].max_tokens == 20
    assert answer.text == "London"
    assert len(engine.requests[1].messages[-1].content) < 200  # type: ignore[index]


async def test_fake_answer_tag_in_a_sentence_is_read_as_text() -> None:
    answer, _, _ = await _ask(["<answer>Paris</answer> is a guess.", " So the answer is: London."])
    assert answer.text == "London"


async def test_no_answer_at_all_abstains_with_a_reason() -> None:
    answer, _, _ = await _ask(["", ""])
    assert answer.abstained and answer.abstain_reason


async def test_retriever_failing_mid_run_is_recorded_and_reasoning_goes_on() -> None:
    retriever = FlakyRetriever(ok_calls=1)
    answer, _, _ = await _ask(TWO_HOPS, retriever=retriever)
    assert answer.text == "London"
    errors = [e for e in answer.trace if e.type == "error"]
    assert errors and all(e.code == "retrieval_error" for e in errors)  # type: ignore[union-attr]
    assert retriever.calls == 1 + 2 * 3  # one success, then 3 attempts for each failing search


async def test_very_long_question_is_cut() -> None:
    question = "who " * 2500
    answer, engine, retriever = await _ask([" So the answer is: nobody."], question=question)
    assert answer.question == question and answer.text == "nobody"
    assert len(engine.requests[0].messages[1].content) < 2000 + 4000  # type: ignore[index]
    assert len(retriever.queries[0]) <= 2000


async def test_confident_sentences_skip_retrieval_with_a_gate() -> None:
    engine = ScriptedEngine(TWO_HOPS, logprob=-0.01)
    retriever = KeywordRetriever(PASSAGES)
    answer = await ask(QUESTION, engine=engine, retriever=retriever, method="ircot",
                       options={"gate": {"kind": "token-confidence"}})
    assert answer.text == "London"
    assert retriever.queries == [QUESTION]  # only the initial retrieval
    assert retrievals_saved(answer.trace) == 3


async def test_streams_and_resumes(tmp_path: Path) -> None:
    nodes = [n async for n, _ in stream_steps(QUESTION, engine=ScriptedEngine(list(TWO_HOPS)),
                                              retriever=KeywordRetriever(PASSAGES), method="ircot")]
    assert nodes == ["start", "retrieve", "reason", "retrieve", "reason", "retrieve", "reason", "finish"]
    retriever = KeywordRetriever(PASSAGES)
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        with pytest.raises(RuntimeError):
            await ask(QUESTION, engine=CrashingEngine(list(TWO_HOPS), crash_at=3), retriever=retriever,
                      method="ircot", checkpointer=saver, thread_id="i")
        engine = ScriptedEngine([TWO_HOPS[2]])
        answer = await resume("i", engine=engine, retriever=retriever, checkpointer=saver, method="ircot")
    assert answer.text == "London" and len(engine.requests) == 1
    assert retriever.queries == [QUESTION, TWO_HOPS[0].strip(), TWO_HOPS[1].strip()]
    assert answer.usage.llm_calls == 3
