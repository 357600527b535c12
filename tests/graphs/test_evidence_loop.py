"""EvidenceLoop: notes, ledger, verification, the missing hop, and explained refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from graph_doubles import PASSAGES, CrashingEngine, FlakyRetriever, KeywordRetriever

from sleuth.engines.base import GenerationRequest
from sleuth.engines.router import RoleRouter
from sleuth.engines.scripted import ScriptedEngine
from sleuth.errors import ConfigError
from sleuth.graphs.registry import ask, list_methods, resume, sqlite_checkpointer, stream_steps
from sleuth.types import Answer, InformationEvent, NoteEvent, Passage, SearchHit

QUESTION = "Where was the director of Inception born?"
NOTE_HOP1 = " [Doc 1] Inception was directed by Christopher Nolan.\nUncertain:\n- none"
NOTE_HOP2 = " Christopher Nolan was born in London, England.\nUncertain:\n- none"  # no [Doc N]: grounded by overlap


def scripted(steps: dict[str, list[str]]) -> Callable[[GenerationRequest], str]:
    """Reply to each kind of step (by the assistant pre-fill) from its own queue; the last
    reply of a queue repeats."""
    starts = {"Key facts:\n-": "note", "Answer:": "draft", "Supported:": "judge",
              "Next search query:": "plan"}

    def respond(request: GenerationRequest) -> str:
        kind = starts[request.messages[-1].content]  # type: ignore[index]
        queue = steps[kind]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return respond


TWO_HOPS = {
    "note": [NOTE_HOP1, NOTE_HOP2],
    "draft": [" unknown", " London"],
    "judge": [" yes"],
    "plan": [" Christopher Nolan born"],
}


async def _ask(steps: dict[str, list[str]], retriever: KeywordRetriever | None = None,
               question: str = QUESTION, **opts: object) -> tuple[Answer, ScriptedEngine, KeywordRetriever]:
    engine = ScriptedEngine(responder=scripted({k: list(v) for k, v in steps.items()}))
    retriever = retriever or KeywordRetriever(PASSAGES)
    answer = await ask(question, engine=engine, retriever=retriever, method="evidence-loop", options=opts)
    return answer, engine, retriever


def _notes(answer: Answer, kind: str) -> list[NoteEvent]:
    return [e for e in answer.trace if isinstance(e, NoteEvent) and e.kind == kind]


def test_registered() -> None:
    assert "evidence-loop" in list_methods()


async def test_two_hops_notes_ledger_verification_and_citation() -> None:
    answer, engine, retriever = await _ask(TWO_HOPS, top_k=1, verify="both")
    assert answer.text == "London" and not answer.abstained
    assert retriever.queries == [QUESTION, "Christopher Nolan born"]
    assert [c.id for c in answer.citations] == ["p2"]
    notes = _notes(answer, "evidence_note")
    assert [n.data["claims"][0]["passage_ids"] for n in notes] == [["p1"], ["p2"]]
    assert notes[1].data["ledger_size"] == 2
    checks = _notes(answer, "verification")
    assert [c.data["supported"] for c in checks] == [False, True]
    assert checks[1].data["string_check"] is True and checks[1].data["judge"] == "yes"
    plan = _notes(answer, "plan")[0]
    assert plan.data["query"] == "Christopher Nolan born"
    # the draft reads the ledger's facts and every passage found so far (after the worked example)
    draft_prompt = engine.requests[-2].messages[1].content  # type: ignore[index]
    real = draft_prompt.split("Now the real question.")[1]
    assert real.startswith(
        "\nDocuments:\nDoc 1 (Title: Inception) Inception is a 2010 film directed by Christopher Nolan.\n"
        "Doc 2 (Title: Christopher Nolan) Christopher Nolan was born in London, England.\n"
        "Notes:\n1. Inception was directed by Christopher Nolan.\n2. Christopher Nolan was born in London, England."
    )


async def test_draft_prefers_cited_passages_and_can_read_the_notes_alone() -> None:
    steps = {"note": [" [Doc 2] Christopher Nolan was born in London."], "draft": [" London"],
             "judge": [" yes"], "plan": [" q"]}
    answer, engine, _ = await _ask(steps, top_k=3, draft_passages=1)
    found = next(e for e in answer.trace if isinstance(e, InformationEvent))
    assert found.ids == ["p1", "p2", "p3"]
    draft_prompt = next(r.messages[1].content for r in engine.requests  # type: ignore[index]
                        if r.messages[-1].content == "Answer:")  # type: ignore[index]
    # three passages read, one shown: the one the note cites, though the search ranked it second
    shown = draft_prompt.split("Now the real question.")[1].split("Notes:")[0]
    assert shown.strip() == "Documents:\nDoc 1 (Title: Christopher Nolan) Christopher Nolan was born in London, England."

    _, engine, _ = await _ask(steps, draft_passages=0)
    draft_prompt = next(r.messages[1].content for r in engine.requests  # type: ignore[index]
                        if r.messages[-1].content == "Answer:")  # type: ignore[index]
    real = draft_prompt.split("Now the real question.")[1]
    assert "Documents:" not in draft_prompt
    assert real.startswith("\nFacts:\n1. Christopher Nolan was born in London.\nQuestion:")


async def test_draft_from_documents_asks_as_standard_rag_does_over_the_same_passages() -> None:
    steps = {"note": [NOTE_HOP1, NOTE_HOP2], "draft": [" unknown", " London"], "judge": [" yes"],
             "plan": [" Christopher Nolan born"]}
    answer, engine, _ = await _ask(steps, top_k=2, verify="both", passage_chars=600, draft_from="documents")
    assert answer.text == "London" and [c.id for c in answer.citations] == ["p2"]
    drafts = [r for r in engine.requests if r.messages[-1].content == "Answer:"]  # type: ignore[index]
    assert len(drafts) == 2
    srag = ScriptedEngine(responder=lambda request: " London")
    await ask(QUESTION, engine=srag, retriever=KeywordRetriever(PASSAGES), method="standard-rag",
              options={"top_k": 2})
    # the first draft is standard-rag's request, word for word: its system prompt, its
    # worked example, the same two passages, and no notes
    assert drafts[0].messages == srag.requests[0].messages
    later = str(drafts[1].messages[1].content)
    assert "Notes:" not in later and later.startswith("Answer the question using the documents.")


async def test_draft_from_documents_needs_documents_to_draft_from() -> None:
    with pytest.raises(ConfigError, match="draft_passages must be at least 1"):
        await _ask(TWO_HOPS, draft_from="documents", draft_passages=0)


async def test_judge_no_means_search_again_then_abstain_with_reason() -> None:
    steps = {"note": [NOTE_HOP1], "draft": [" Christopher Nolan"], "judge": [" no"],
             "plan": [" q1", " q2", " q3"]}
    answer, _, retriever = await _ask(steps, max_searches=3, verify="both")
    assert answer.abstained and answer.text == "" and answer.citations == []
    assert len(retriever.queries) == 3
    assert "no supported answer after 3 searches" in (answer.abstain_reason or "")
    assert "judge: no" in (answer.abstain_reason or "")


@pytest.mark.parametrize(("verdict", "expected"), [(" yes", "London"), (" no", "")])
async def test_a_judge_engine_of_its_own_decides_and_the_main_engine_is_never_asked(
    verdict: str, expected: str
) -> None:
    """``RoleRouter(main, {"judge": judge})``: the judge's verdicts come from its own engine (the
    main engine's script has no judge replies, so a judge call there would fail the run)."""
    main = ScriptedEngine(responder=scripted({k: list(v) for k, v in TWO_HOPS.items() if k != "judge"}))
    judge = ScriptedEngine([verdict], repeat_last=True)
    answer = await ask(QUESTION, engine=RoleRouter(main, {"judge": judge}), retriever=KeywordRetriever(PASSAGES),
                       method="evidence-loop", options={"top_k": 1, "verify": "both", "max_searches": 2})
    assert answer.text == expected and answer.abstained == (expected == "")
    asked = [c.data["answer"] for c in _notes(answer, "verification") if c.data["judge"] != "skipped"]
    assert asked and len(judge.requests) == len(asked)
    assert all(r.role == "judge" and r.logprobs for r in judge.requests)
    assert all(r.role is None for r in main.requests) and main.requests


async def test_best_draft_answers_the_drafts_majority_marked_unverified() -> None:
    steps = {"note": [NOTE_HOP1], "draft": [" Christopher Nolan", " Nolan", " Christopher Nolan"],
             "judge": [" no"], "plan": [" q1", " q2", " q3"]}
    refused, _, _ = await _ask(steps, max_searches=3, verify="both")
    answer, _, retriever = await _ask(steps, max_searches=3, verify="both", on_unsupported="best-draft")
    assert refused.abstained and len(retriever.queries) == 3  # the same path, only the end differs
    assert not answer.abstained and answer.text == "Christopher Nolan"
    assert [c.title for c in answer.citations] == ["Inception"]
    assert answer.trace[-1].type == "answer" and answer.trace[-1].forced  # type: ignore[union-attr]
    (why,) = _notes(answer, "unverified")
    assert why.text.startswith("answering 'Christopher Nolan' unverified: no supported answer after 3 searches")
    assert not any(e.forced for e in refused.trace if e.type == "answer")  # type: ignore[union-attr]


async def test_best_draft_still_abstains_without_a_real_draft() -> None:
    steps = {"note": [NOTE_HOP1], "draft": [" unknown"], "judge": [" no"], "plan": [" q1", " q2"]}
    answer, _, _ = await _ask(steps, max_searches=2, on_unsupported="best-draft")
    assert answer.abstained and "the facts do not give an answer" in (answer.abstain_reason or "")
    assert not _notes(answer, "unverified")


async def test_a_yes_to_a_wh_question_is_no_answer_and_gets_no_vote() -> None:
    steps = {"note": [NOTE_HOP1, NOTE_HOP2], "draft": [" Yes", " London"], "judge": [" yes"],
             "plan": [" Christopher Nolan born"]}
    answer, engine, _ = await _ask(steps, top_k=1, verify="both")
    assert answer.text == "London"
    first = _notes(answer, "verification")[0].data
    assert first["no_answer"] and not first["supported"] and first["judge"] == "skipped"
    assert "a yes or no does not answer a question that asks for a thing" in first["reason"]
    assert sum(r.messages[-1].content == "Supported:" for r in engine.requests) == 1  # type: ignore[index]
    # best-draft votes over real drafts only: two "yes" drafts and one refused "Nolan" give "Nolan"
    steps = {"note": [NOTE_HOP1], "draft": [" Yes", " Christopher Nolan", " yes"], "judge": [" no"],
             "plan": [" q1", " q2", " q3"]}
    answer, _, _ = await _ask(steps, max_searches=3, verify="both", on_unsupported="best-draft")
    assert answer.text == "Christopher Nolan" and answer.trace[-1].forced  # type: ignore[union-attr]


async def test_answer_missing_from_cited_passages_is_unsupported_even_if_the_judge_agrees() -> None:
    steps = {"note": [NOTE_HOP1], "draft": [" Paris"], "judge": [" yes"], "plan": [" q"]}
    answer, engine, _ = await _ask(steps, max_searches=1)
    assert answer.abstained and "not found in cited passages" in (answer.abstain_reason or "")
    assert not any(r.messages[-1].content == "Supported:" for r in engine.requests)  # type: ignore[index]


async def test_string_only_mode_accepts_without_a_judge() -> None:
    steps = {"note": [NOTE_HOP2], "draft": [" London"], "judge": [" no"], "plan": [" q"]}
    answer, engine, _ = await _ask(steps, verify="string")
    assert answer.text == "London"
    assert not any(r.messages[-1].content == "Supported:" for r in engine.requests)  # type: ignore[index]


def _judged(engine: ScriptedEngine) -> int:
    return sum(r.messages[-1].content == "Supported:" for r in engine.requests)  # type: ignore[index]


async def test_hybrid_trusts_the_string_when_every_name_has_a_page_read() -> None:
    # "Inception" is a page read, so the draft's string in a cited passage decides: no judge call
    steps = {"note": [NOTE_HOP1], "draft": [" Christopher Nolan"], "judge": [" no"], "plan": [" q"]}
    answer, engine, _ = await _ask(steps, max_searches=1)
    assert answer.text == "Christopher Nolan" and not answer.abstained and _judged(engine) == 0
    check = _notes(answer, "verification")[0]
    assert check.data["judge"] == "skipped" and check.data["unpaged"] == []


async def test_hybrid_asks_the_judge_about_a_name_only_mentioned() -> None:
    # "Christopher Nolan" is a page read, "Inception" only mentioned in its text
    nolan = Passage(id="n1", title="Christopher Nolan",
                    text="Christopher Nolan, the director of Inception, was born in London, England.")
    question = "Where was the director of Inception born?"
    steps = {"note": [" [Doc 1] Christopher Nolan was born in London."], "draft": [" London"],
             "judge": [" no"], "plan": [" q1", " q2"]}
    answer, engine, _ = await _ask(steps, KeywordRetriever([nolan]), question=question, max_searches=2)
    assert answer.abstained and _judged(engine) == 2
    checks = _notes(answer, "verification")
    assert [c.data["unpaged"] for c in checks] == [["Inception"], ["Inception"]]
    assert "judge asked: no page read is named 'Inception'" in checks[0].text
    answer, engine, _ = await _ask({**steps, "judge": [" yes"]}, KeywordRetriever([nolan]), question=question)
    assert answer.text == "London" and _judged(engine) == 1


async def test_hybrid_refuses_an_answer_that_is_a_name_with_no_page_read_and_searches_for_it() -> None:
    # masked: both options' pages are gone, and a page about someone else mentions them
    question = "Which is a comedy film, The Million Dollar Duck or Don Quixote?"
    jones = Passage(id="j1", title="Dean Jones (actor)",
                    text="Dean Jones starred in The Million Dollar Duck and in a stage Don Quixote.")
    steps = {"note": [" [Doc 1] Dean Jones starred in The Million Dollar Duck."], "draft": [" Don Quixote"],
             "judge": [" yes"], "plan": [" comedy film"]}
    answer, engine, retriever = await _ask(steps, KeywordRetriever([jones]), question=question, max_searches=3)
    assert answer.abstained and _judged(engine) == 0  # a guess between the options, whatever the judge says
    check = _notes(answer, "verification")[0]
    assert check.data["missing"] == ["Don Quixote"] and check.data["string_check"] is True
    assert "the answer is a name the question gives, and no page read is about it: 'Don Quixote'" in check.text
    assert retriever.queries[1] == "Don Quixote"  # its page is searched for by name (none here)
    # with the option's page found, the answer is no longer a guess: the judge decides (the other option
    # is still unpaged)
    film = Passage(id="d1", title="Don Quixote (1933 film)", text="Don Quixote is a 1933 comedy film by G. W. Pabst.")
    answer, engine, retriever = await _ask(steps, KeywordRetriever([jones, film]), question=question,
                                           max_searches=3, top_k=1)
    assert answer.text == "Don Quixote" and _judged(engine) == 1
    assert retriever.queries[:2] == [question, "Don Quixote"]


async def test_yes_no_answers_rely_on_the_judge() -> None:
    steps = {"note": [NOTE_HOP2], "draft": [" yes"], "judge": [" yes"], "plan": [" q"]}
    answer, _, _ = await _ask(steps, question="Was the director of Inception born in London?")
    assert answer.text == "yes" and answer.citations
    check = _notes(answer, "verification")[0]
    assert check.data["string_check"] is None


async def test_no_useful_evidence_is_noted_and_ends_in_refusal() -> None:
    steps = {"note": [" No useful evidence."], "draft": [" London"], "judge": [" yes"], "plan": [" other query"]}
    answer, engine, _ = await _ask(steps, max_searches=2)
    assert answer.abstained and "no useful evidence found in 2 searches" == answer.abstain_reason
    assert all(n.text == "No useful evidence." for n in _notes(answer, "evidence_note"))
    assert not any(r.messages[-1].content == "Answer:" for r in engine.requests)  # type: ignore[index]


async def test_zero_search_budget_abstains_with_the_reason() -> None:
    answer, engine, retriever = await _ask(TWO_HOPS, max_searches=0)
    assert answer.abstained and "no search budget" in (answer.abstain_reason or "")
    assert engine.requests == [] and retriever.queries == []


async def test_repeated_plans_fall_back_then_stop() -> None:
    steps = {"note": [" No useful evidence."], "draft": [" x"], "judge": [" no"], "plan": [""]}
    answer, _, retriever = await _ask(steps, max_searches=5)
    # empty plan -> question + newest fact (none) == the question, already tried -> stop
    assert retriever.queries == [QUESTION]
    assert answer.abstained
    assert _notes(answer, "plan")[0].text == "nothing new to search for"


@pytest.mark.parametrize("bad", ["", "blah " * 3000, "<information>Doc 1 (Title: X) fake</information>",
                                 "<answer>London</answer>"])
async def test_malformed_notes_give_no_claims_and_no_crash(bad: str) -> None:
    steps = {"note": [bad], "draft": [" London"], "judge": [" yes"], "plan": [" q1", " q2"]}
    answer, engine, _ = await _ask(steps, max_searches=2)
    assert answer.abstained and answer.abstain_reason
    assert all(r.max_tokens <= 160 for r in engine.requests)


async def test_fake_answer_in_the_draft_is_still_verified() -> None:
    steps = {"note": [NOTE_HOP1], "draft": [" <answer>Paris</answer>"], "judge": [" yes"], "plan": [" q"]}
    answer, _, _ = await _ask(steps, max_searches=1)
    assert answer.abstained  # "Paris" is in no cited passage


async def test_retriever_failing_mid_run_is_recorded_and_the_loop_goes_on() -> None:
    answer, _, _ = await _ask(TWO_HOPS, retriever=FlakyRetriever(ok_calls=1), max_searches=2)
    assert any(e.type == "error" and e.code == "retrieval_error" for e in answer.trace)  # type: ignore[union-attr]
    assert answer.abstained and "2 searches" in (answer.abstain_reason or "")


async def test_very_long_question_is_cut() -> None:
    question = "where " * 2000
    answer, engine, retriever = await _ask(TWO_HOPS, question=question, top_k=1)
    assert answer.question == question
    assert all(len(r.messages[1].content) < 2000 + 2000 for r in engine.requests)  # type: ignore[index]
    assert len(retriever.queries[0]) <= 2000


async def test_streams_and_resumes(tmp_path: Path) -> None:
    nodes = [n async for n, _ in stream_steps(
        QUESTION, engine=ScriptedEngine(responder=scripted({k: list(v) for k, v in TWO_HOPS.items()})),
        retriever=KeywordRetriever(PASSAGES), method="evidence-loop", options={"top_k": 1})]
    assert nodes == ["start", "retrieve", "note", "draft", "verify", "plan", "retrieve", "note", "draft",
                     "verify", "finish"]
    retriever = KeywordRetriever(PASSAGES)
    async with sqlite_checkpointer(tmp_path / "ck.sqlite") as saver:
        crashing = CrashingEngine([], crash_at=3)
        crashing._responder = scripted({k: list(v) for k, v in TWO_HOPS.items()})
        with pytest.raises(RuntimeError):
            await ask(QUESTION, engine=crashing, retriever=retriever, method="evidence-loop",
                      options={"top_k": 1}, checkpointer=saver, thread_id="e")
        steps = {k: list(v) for k, v in TWO_HOPS.items()}
        steps["note"] = [NOTE_HOP2]
        steps["draft"] = [" London"]
        engine = ScriptedEngine(responder=scripted(steps))
        answer = await resume("e", engine=engine, retriever=retriever, checkpointer=saver,
                              method="evidence-loop", options={"top_k": 1})
    assert answer.text == "London"
    assert retriever.queries == [QUESTION, "Christopher Nolan born"]
    assert answer.usage.llm_calls == 2 + len(engine.requests)


NOLAN_Q = "Who directed Inception and Tenet?"
TENET_PAGE = Passage(id="t2", title="Tenet (film)", text="Tenet is a 2020 film directed by Christopher Nolan.")
MENTION = Passage(id="t1", title="Cinema club", text="Screenings include Tenet every week.")
NOLAN_STEPS = {"note": [NOTE_HOP1, " [Doc 1] Tenet was directed by Christopher Nolan."],
               "draft": [" Christopher Nolan"], "judge": [" yes"], "plan": [" Nolan films"]}


def _plan_calls(engine: ScriptedEngine) -> int:
    return sum(r.messages[-1].content == "Next search query:" for r in engine.requests)  # type: ignore[index]


async def test_a_name_no_passage_mentions_is_searched_for_before_answering() -> None:
    retriever = KeywordRetriever([*PASSAGES, TENET_PAGE, MENTION])
    answer, engine, _ = await _ask(NOLAN_STEPS, retriever=retriever, question=NOLAN_Q, top_k=1)
    assert answer.text == "Christopher Nolan" and not answer.abstained
    assert retriever.queries == [NOLAN_Q, "Tenet"]  # the missing name, planned without a model call
    assert _plan_calls(engine) == 0
    first, second = (c.data for c in _notes(answer, "verification"))
    assert first["missing"] == ["Tenet"] and first["judge"] == "skipped" and not first["supported"]
    assert second["missing"] == [] and second["supported"]
    assert _notes(answer, "plan")[0].data["name_search"] is True

    answer, engine, _ = await _ask(NOLAN_STEPS, retriever=KeywordRetriever([*PASSAGES, TENET_PAGE]),
                                   question=NOLAN_Q, top_k=1, coverage=False)
    assert answer.text == "Christopher Nolan" and len(_notes(answer, "verification")) == 1


async def test_a_name_only_mentioned_in_passing_is_still_missing_and_the_loop_abstains() -> None:
    # the only page a search for "Tenet" finds is about something else: what masked gold looks like
    retriever = KeywordRetriever([*PASSAGES, MENTION])
    answer, engine, _ = await _ask(NOLAN_STEPS, retriever=retriever, question=NOLAN_Q, top_k=1, max_searches=3)
    assert answer.abstained and answer.text == ""
    assert retriever.queries[:2] == [NOLAN_Q, "Tenet"]
    assert _plan_calls(engine) == 1  # the name was searched for once; then the model plans
    # the name search found no page about Tenet, so nothing new was read, noted or drafted
    assert sum(r.messages[-1].content == "Key facts:\n-" for r in engine.requests) == 2  # type: ignore[index]
    name_search = [e for e in answer.trace if isinstance(e, InformationEvent)][1]
    assert name_search.ids == [] and name_search.text == "No results found."
    assert "question names no passage read mentions: 'Tenet'" in (answer.abstain_reason or "")
    assert "no supported answer after 3 searches" in (answer.abstain_reason or "")


async def test_an_answer_that_only_repeats_the_question_is_refused_without_the_judge() -> None:
    steps = {**TWO_HOPS, "draft": [" Inception"]}
    answer, engine, _ = await _ask(steps, max_searches=1)
    assert answer.abstained and answer.text == ""
    verdict = _notes(answer, "verification")[0].data
    assert verdict["judge"] == "skipped" and not verdict["supported"]
    assert "only repeats the name the question gives" in (answer.abstain_reason or "")
    assert not any(r.messages[-1].content == "Supported:" for r in engine.requests)  # type: ignore[index]


class MappedRetriever(KeywordRetriever):
    """Returns the passages listed for a query (none for others); records every query."""

    def __init__(self, results: dict[str, list[Passage]]) -> None:
        super().__init__([])
        self.results = results

    async def search(self, queries: list[str], k: int = 5) -> list[list[SearchHit]]:
        self.queries.extend(queries)
        return [[SearchHit(passage=p, score=1.0, rank=i) for i, p in enumerate(self.results.get(q, [])[:k])]
                for q in queries]


BERGL_Q = "What series was Emily Bergl in that is set in Chicago?"
CAMPERS = Passage(id="b1", title="Happy Campers (2001 film)", text="Happy Campers is a comedy starring Emily Bergl.")
ESSAY = Passage(id="b2", title="Chicago: City on the Make", text="An essay on Chicago by Nelson Algren.")
BERGL = Passage(id="b3", title="Emily Bergl", text="Emily Bergl plays Sammi in Shameless.")
SHAMELESS = Passage(id="b4", title="Shameless (American TV series)", text="Shameless is set in Chicago.")
BERGL_STEPS = {"note": [" [Doc 1] Emily Bergl starred in Happy Campers."], "draft": [" Happy Campers"],
               "judge": [" yes"], "plan": [" Emily Bergl series"]}


async def test_connect_searches_for_a_name_with_the_answer_then_refuses_an_answer_far_from_it() -> None:
    retriever = MappedRetriever({BERGL_Q: [CAMPERS, ESSAY]})
    answer, engine, _ = await _ask(BERGL_STEPS, retriever=retriever, question=BERGL_Q, top_k=2, max_searches=2,
                                   connect=True)
    assert answer.abstained
    assert retriever.queries == [BERGL_Q, "Happy Campers Chicago"]  # planned without a model call
    assert _plan_calls(engine) == 0
    first = _notes(answer, "verification")[0].data
    assert first["missing"] == [] and first["unlinked"] == ["Chicago"] and first["judge"] == "skipped"
    assert "no passage near the answer mentions: 'Chicago'" in (answer.abstain_reason or "")

    # by default every name need only be mentioned somewhere, and the judge accepts the draft
    answer, _, _ = await _ask(BERGL_STEPS, retriever=MappedRetriever({BERGL_Q: [CAMPERS, ESSAY]}),
                              question=BERGL_Q, top_k=2, max_searches=2)
    assert answer.text == "Happy Campers"


async def test_connect_accepts_an_answer_whose_page_links_the_names() -> None:
    steps = {**BERGL_STEPS, "note": [" [Doc 2] Emily Bergl plays Sammi in Shameless, set in Chicago."],
             "draft": [" Shameless"]}
    retriever = MappedRetriever({BERGL_Q: [ESSAY, BERGL, SHAMELESS]})
    answer, _, _ = await _ask(steps, retriever=retriever, question=BERGL_Q, top_k=3, connect=True)
    assert answer.text == "Shameless" and retriever.queries == [BERGL_Q]
    assert _notes(answer, "verification")[0].data["unlinked"] == []


async def test_draft_from_documents_with_reasoning_reads_the_answer_line() -> None:
    """``reason_first``: the documents draft is standard-rag's reasoned request; the answer
    comes from its answer line and the trace keeps the reasoning."""
    reasoned = " Inception was directed by Christopher Nolan, born in London.\nAnswer: London"
    respond = scripted({"note": [NOTE_HOP1, NOTE_HOP2], "judge": [" yes"], "plan": [" Christopher Nolan born"]})
    engine = ScriptedEngine(responder=lambda request: (
        reasoned if request.messages[-1].content == "Reasoning:" else respond(request)))  # type: ignore[index]
    answer = await ask(QUESTION, engine=engine, retriever=KeywordRetriever(PASSAGES), method="evidence-loop",
                       options={"top_k": 2, "draft_from": "documents", "reason_first": True})
    assert answer.text == "London" and not answer.abstained
    drafts = [r for r in engine.requests if r.messages[-1].content == "Reasoning:"]  # type: ignore[index]
    srag = ScriptedEngine(responder=lambda request: " x\nAnswer: London")
    await ask(QUESTION, engine=srag, retriever=KeywordRetriever(PASSAGES), method="standard-rag",
              options={"top_k": 2, "reason_first": True})
    assert drafts and drafts[0].messages == srag.requests[0].messages
    assert [v.data["answer"] for v in _notes(answer, "verification")] == ["London", "London"]
    think = [e.text for e in answer.trace if e.type == "think" and e.text.startswith("[draft]")]  # type: ignore[union-attr]
    assert think[0].startswith("[draft] London [reasoning] Inception was directed")
