r"""MCTS-RAG as a LangGraph ``StateGraph``: Monte Carlo tree search over reasoning and
retrieval actions (Hu et al., 2025), with rStar-style self-consistency rewards.

::

    START -> start --budget--> expand --> simulate --> backpropagate --rollouts left--> expand
               \                  \--budget spent--\          \--done or budget spent--\
                \--zero budget------------------------------------------------------> finalize -> END

* ``expand`` selects a node by UCT (c = 2.0 by default) and applies one untried action;
* ``simulate`` applies random allowed actions until a terminal answer;
* a terminal's value is the majority-vote confidence of its sampled answers;
* ``backpropagate`` adds that value along the path;
* ``finalize`` picks the answer by reward-weighted voting over all terminal nodes and puts
  the whole tree on the trace (``NoteEvent(kind="tree")``).
"""

from __future__ import annotations

import operator
import random
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph

from sleuth.agents.evidence import cite_passages
from sleuth.agents.mcts import (
    Action,
    MCTSNode,
    MCTSOptions,
    MCTSTree,
    backpropagate,
    rollout_action,
    select,
    tree_data,
    weighted_vote,
)
from sleuth.agents.mcts_actions import MCTSActor, action_cost
from sleuth.agents.reader import build_answer
from sleuth.agents.recorder import StepRecorder
from sleuth.engines.base import LLMEngine
from sleuth.graphs.gated import with_gate
from sleuth.graphs.registry import MethodSpec, register_checkpoint_types, register_method
from sleuth.retrieval.base import Retriever
from sleuth.types import Answer, NoteEvent, TraceEvent, Usage

register_checkpoint_types(MCTSTree, MCTSNode)


class MCTSState(TypedDict, total=False):
    question: str
    tree: MCTSTree
    rollout: int
    leaf: int
    stop_reason: str
    trace: Annotated[list[TraceEvent], operator.add]
    usage: Usage
    answer: Answer


class MCTSNodes:
    def __init__(self, engine: LLMEngine, retriever: Retriever, options: MCTSOptions) -> None:
        self.recorder = StepRecorder(engine, retriever)
        self.actor = MCTSActor(self.recorder, options)
        self.opts = options

    async def start(self, state: MCTSState) -> dict[str, Any]:
        tree = MCTSTree.new(state["question"][: self.opts.max_question_chars], self.opts.max_depth)
        stop = ""
        if self.opts.rollouts == 0 or self.opts.max_llm_calls == 0:
            stop = (f"zero budget (rollouts={self.opts.rollouts}, "
                    f"max_llm_calls={self.opts.max_llm_calls}): the search never ran")
        return {"tree": tree, "rollout": 0, "leaf": 0, "stop_reason": stop, "usage": Usage()}

    def _affordable(self, action: Action, usage: Usage) -> tuple[Action | None, int]:
        """The action to run within the remaining call budget (a cheaper direct answer if
        ``action`` does not fit), and its number of votes; ``None`` when nothing fits."""
        left = self.opts.max_llm_calls - usage.llm_calls
        if action_cost(action, self.opts.votes) <= left:
            return action, self.opts.votes
        if left >= 1:
            return "direct_answer", min(self.opts.votes, left)
        return None, 0

    async def _step(self, tree: MCTSTree, parent: int, action: Action, usage: Usage,
                    trace: list[TraceEvent]) -> MCTSNode | None:
        chosen, votes = self._affordable(action, usage)
        if chosen is None:
            return None
        node, events = await self.actor.apply(tree, parent, chosen, usage, votes=votes)
        trace.extend(events)
        owner = tree.nodes[parent]
        if chosen in owner.untried:
            owner.untried.remove(chosen)
        return tree.add_child(parent, node)

    async def expand(self, state: MCTSState) -> dict[str, Any]:
        tree = state["tree"].model_copy(deep=True)
        usage = state["usage"].model_copy()
        trace: list[TraceEvent] = []
        selected = tree.nodes[select(tree, self.opts.c)]
        if selected.terminal or not selected.untried:
            return {"leaf": selected.id}
        child = await self._step(tree, selected.id, selected.untried[0], usage, trace)
        if child is None:
            return {"stop_reason": "the engine-call budget ran out", "tree": tree, "usage": usage}
        return {"tree": tree, "leaf": child.id, "usage": usage, "trace": trace}

    async def simulate(self, state: MCTSState) -> dict[str, Any]:
        tree = state["tree"].model_copy(deep=True)
        usage = state["usage"].model_copy()
        trace: list[TraceEvent] = []
        node = tree.nodes[state["leaf"]]
        rng = random.Random(f"{self.opts.seed}-{state['rollout']}")
        stop = ""
        while not node.terminal:
            child = await self._step(tree, node.id, rollout_action(node, tree.max_depth, rng), usage, trace)
            if child is None:
                stop = "the engine-call budget ran out"
                break
            node = child
        return {"tree": tree, "leaf": node.id, "usage": usage, "trace": trace, "stop_reason": stop}

    async def backpropagate(self, state: MCTSState) -> dict[str, Any]:
        tree = state["tree"].model_copy(deep=True)
        leaf = tree.nodes[state["leaf"]]
        value = leaf.reward if leaf.terminal and not leaf.dead else 0.0
        backpropagate(tree, leaf.id, value)
        rollout = state["rollout"] + 1
        path = [n.action for n in tree.path(leaf.id)]
        note = NoteEvent(
            kind="rollout",
            text=f"rollout {rollout}: {' -> '.join(path) or 'root'} => {leaf.answer or '(no answer)'} "
            f"(value {value:.2f})",
            data={"rollout": rollout, "leaf": leaf.id, "path": path, "value": value, "answer": leaf.answer},
        )
        return {"tree": tree, "rollout": rollout, "trace": [note]}

    async def finalize(self, state: MCTSState) -> dict[str, Any]:
        tree = state["tree"]
        vote = weighted_vote(tree)
        data = tree_data(tree)
        notes: list[TraceEvent] = [
            NoteEvent(kind="tree", text=f"{len(tree.nodes)} nodes, {len(tree.terminals())} answers, "
                      f"{state.get('rollout', 0)} rollouts", data=data),
            NoteEvent(kind="vote", text=f"{vote.answer or '(none)'} with {vote.confidence:.2f} of the "
                      "weight", data=vote.model_dump()),
        ]
        seen = [tree.passages[i] for n in vote.node_ids for p in tree.path(n) for i in p.passage_ids
                if i in tree.passages]
        reason = None
        if not vote.answer:
            reason = state.get("stop_reason") or (
                f"no rollout reached a supported answer ({state.get('rollout', 0)} rollouts, "
                f"{sum(1 for n in tree.nodes if n.dead)} dead ends)")
        answer = build_answer(
            state["question"], vote.answer, trace=[*state.get("trace", []), *notes],
            usage=state["usage"], citations=cite_passages(vote.answer, seen, seen[:1]) if seen else [],
            abstain_reason=reason,
        )
        return {"answer": answer}

    def route(self, state: MCTSState) -> str:
        if state.get("stop_reason") or state.get("rollout", 0) >= self.opts.rollouts:
            return "finalize"
        return "expand"

    def after_expand(self, state: MCTSState) -> str:
        return "finalize" if state.get("stop_reason") else "simulate"


def mcts_rag_graph(engine: LLMEngine, retriever: Retriever, options: MCTSOptions | None = None) -> Any:
    """Compile the MCTS-RAG graph (see the module docstring for its shape)."""
    opts = options or MCTSOptions()
    nodes = MCTSNodes(engine, retriever, opts)
    graph = StateGraph(MCTSState)
    graph.add_node("start", nodes.start)
    graph.add_node("expand", nodes.expand)
    graph.add_node("simulate", nodes.simulate)
    graph.add_node("backpropagate", nodes.backpropagate)
    graph.add_node("finalize", nodes.finalize)
    graph.add_edge(START, "start")
    graph.add_conditional_edges("start", nodes.route, ["expand", "finalize"])
    graph.add_conditional_edges("expand", nodes.after_expand, ["simulate", "finalize"])
    graph.add_edge("simulate", "backpropagate")
    graph.add_conditional_edges("backpropagate", nodes.route, ["expand", "finalize"])
    graph.add_edge("finalize", END)
    return with_gate(graph, engine, retriever, opts.gate, opts)


register_method(
    MethodSpec(
        name="mcts-rag",
        builder=mcts_rag_graph,
        options=MCTSOptions,
        description="MCTS-RAG: tree search over reasoning, decomposition and retrieval actions; "
        "the answer is a reward-weighted vote over terminal nodes.",
    )
)
