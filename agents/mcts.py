"""The MCTS-RAG search tree: nodes, UCT selection, back-propagation and weighted voting.

Everything here is pure (no model calls), so the search policy is testable on hand-built
trees. The tree is a pydantic model so a LangGraph checkpoint can hold it.

A node is one reasoning step reached by one of MCTS-RAG's six actions (Hu et al., 2025)::

    direct_answer        answer now                                       (terminal)
    quick_reasoning      one short reasoning step, no retrieval
    decompose            ask and answer a sub-question, no retrieval
    retrieval_reasoning  retrieve with the question and the steps so far, then reason
    retrieval_decompose  ask a sub-question, retrieve for it, answer it from the passages
    summarised_answer    summarise the steps and the evidence, then answer  (terminal)

A terminal node's reward is the majority-vote confidence of its sampled answers.
"""

from __future__ import annotations

import math
import random
from typing import Literal

from pydantic import Field

from sleuth.agents.answers import is_non_answer
from sleuth.agents.evidence import normalize_answer
from sleuth.agents.gate import GateOptions
from sleuth.agents.reader import ReaderOptions
from sleuth.types import Passage, StrictModel

Action = Literal[
    "direct_answer",
    "quick_reasoning",
    "decompose",
    "retrieval_reasoning",
    "retrieval_decompose",
    "summarised_answer",
]
ACTIONS: tuple[Action, ...] = (
    "retrieval_reasoning",
    "retrieval_decompose",
    "quick_reasoning",
    "decompose",
    "direct_answer",
    "summarised_answer",
)
"""Expansion order: untried actions are expanded in this order (retrieval first)."""
TERMINAL_ACTIONS: frozenset[str] = frozenset({"direct_answer", "summarised_answer"})


class MCTSOptions(ReaderOptions):  # type: ignore[misc, unused-ignore]  # mypy cannot map sleuth.agents
    rollouts: int = Field(default=8, ge=0, le=50)
    """Select-expand-simulate-backpropagate iterations. 0 is a valid, explained abstention."""
    max_depth: int = Field(default=4, ge=1, le=10)
    """Steps on a path; at the last one only the answer actions are allowed."""
    votes: int = Field(default=3, ge=1, le=10)
    """Answers sampled at a terminal node; their agreement is the node's reward."""
    c: float = Field(default=2.0, ge=0.0)
    """UCT exploration constant."""
    max_llm_calls: int = Field(default=80, ge=0)
    """Engine calls for the whole search; the search stops when it is spent."""
    top_k: int = Field(default=3, ge=1, le=20)
    """Passages per retrieval action."""
    gate: GateOptions | None = None
    """A retrieve-or-answer gate in front of the search (``None``: always search)."""
    step_max_tokens: int = Field(default=64, ge=8, le=512)
    """Token budget of a reasoning step or a sub-question."""
    summary_max_tokens: int = Field(default=128, ge=16, le=1024)
    """Token budget of a summarised answer."""
    vote_temperature: float = Field(default=0.7, gt=0.0)
    """Temperature of the extra answer samples (the first is at ``temperature``)."""
    passage_chars: int = Field(default=400, ge=50)


class MCTSNode(StrictModel):
    id: int
    parent: int | None = None
    action: Action | Literal["root"] = "root"
    depth: int = 0
    text: str = ""
    """The step as later prompts show it (e.g. ``Sub-question 1: ...\\nAnswer 1: ...``)."""
    query: str = ""
    passage_ids: list[str] = Field(default_factory=list)
    answer: str = ""
    samples: list[str] = Field(default_factory=list)
    terminal: bool = False
    dead: bool = False
    """The step could not be generated (empty or malformed output): a terminal with reward 0."""
    reward: float = 0.0
    visits: int = 0
    value_sum: float = 0.0
    children: list[int] = Field(default_factory=list)
    untried: list[Action] = Field(default_factory=list)

    @property
    def q(self) -> float:
        return self.value_sum / self.visits if self.visits else 0.0


class MCTSTree(StrictModel):
    question: str
    max_depth: int
    nodes: list[MCTSNode] = Field(default_factory=list)
    passages: dict[str, Passage] = Field(default_factory=dict)

    @classmethod
    def new(cls, question: str, max_depth: int) -> MCTSTree:
        tree = cls(question=question, max_depth=max_depth)
        tree.nodes.append(MCTSNode(id=0, untried=allowed_actions(0, max_depth)))
        return tree

    def add_child(self, parent: int, node: MCTSNode) -> MCTSNode:
        """Attach ``node`` under ``parent``, giving it an id and its untried actions."""
        node.id = len(self.nodes)
        node.parent = parent
        node.depth = self.nodes[parent].depth + 1
        node.terminal = node.terminal or node.dead or node.action in TERMINAL_ACTIONS
        node.untried = [] if node.terminal else allowed_actions(node.depth, self.max_depth)
        self.nodes.append(node)
        self.nodes[parent].children.append(node.id)
        return node

    def path(self, node_id: int) -> list[MCTSNode]:
        """Root-to-node, root excluded."""
        out = []
        node = self.nodes[node_id]
        while node.parent is not None:
            out.append(node)
            node = self.nodes[node.parent]
        return out[::-1]

    def terminals(self) -> list[MCTSNode]:
        return [n for n in self.nodes if n.terminal and not n.dead and n.answer]


def allowed_actions(depth: int, max_depth: int) -> list[Action]:
    """Actions for a node at ``depth``: only answers on the last step, no summary at the root."""
    if depth + 1 >= max_depth:
        actions: list[Action] = ["direct_answer", "summarised_answer"]
    else:
        actions = list(ACTIONS)
    if depth == 0:
        actions = [a for a in actions if a != "summarised_answer"]
    return actions


def uct(child: MCTSNode, parent_visits: int, c: float) -> float:
    """Q + c * sqrt(ln N / n); unvisited children come first."""
    if child.visits == 0:
        return math.inf
    return child.q + c * math.sqrt(math.log(max(parent_visits, 1)) / child.visits)


def select(tree: MCTSTree, c: float) -> int:
    """Descend from the root by UCT to a node with untried actions, or to a terminal."""
    node = tree.nodes[0]
    while not node.terminal and not node.untried and node.children:
        parent_visits = node.visits
        node = max((tree.nodes[i] for i in node.children),
                   key=lambda ch: (uct(ch, parent_visits, c), -ch.id))
    return node.id


def rollout_action(node: MCTSNode, max_depth: int, rng: random.Random) -> Action:
    """The simulation policy: a uniform random allowed action."""
    return rng.choice(allowed_actions(node.depth, max_depth))


def backpropagate(tree: MCTSTree, node_id: int, value: float) -> None:
    """Add one visit and ``value`` to the node and each of its ancestors."""
    current: int | None = node_id
    while current is not None:
        node = tree.nodes[current]
        node.visits += 1
        node.value_sum += value
        current = node.parent


def tree_agreement(tree: MCTSTree, answer: str) -> float:
    """With one vote per terminal: the share of the tree's answers (this one included) that
    agree with ``answer``."""
    if is_non_answer(answer):
        return 0.0
    others = [normalize_answer(n.answer) for n in tree.terminals()]
    same = sum(1 for o in others if o == normalize_answer(answer))
    return (same + 1) / (len(others) + 1)


class VoteResult(StrictModel):
    answer: str
    confidence: float
    """The winner's share of the total weight."""
    table: dict[str, float]
    """Normalised answer -> summed weight."""
    node_ids: list[int]
    """The terminal nodes that voted for the winner."""


def weighted_vote(tree: MCTSTree) -> VoteResult:
    """The final answer: terminal answers weighted by their reward, summed per normal form."""
    table: dict[str, float] = {}
    surface: dict[str, str] = {}
    for node in tree.terminals():
        norm = normalize_answer(node.answer)
        table[norm] = table.get(norm, 0.0) + node.reward
        surface.setdefault(norm, node.answer)
    total = sum(table.values())
    if not table or total <= 0.0:
        return VoteResult(answer="", confidence=0.0, table=table, node_ids=[])
    best = max(table, key=lambda n: (table[n], -list(table).index(n)))
    ids = [n.id for n in tree.terminals() if normalize_answer(n.answer) == best]
    return VoteResult(answer=surface[best], confidence=table[best] / total, table=table, node_ids=ids)


def tree_data(tree: MCTSTree) -> dict[str, object]:
    """The tree as JSON-friendly nodes and edges, for the trace."""
    nodes = [
        {
            "id": n.id, "parent": n.parent, "action": n.action, "depth": n.depth,
            "text": n.text[:300], "answer": n.answer, "terminal": n.terminal, "dead": n.dead,
            "visits": n.visits, "q": round(n.q, 4), "reward": round(n.reward, 4),
            "passage_ids": n.passage_ids,
        }
        for n in tree.nodes
    ]
    edges = [[n.parent, n.id] for n in tree.nodes if n.parent is not None]
    return {"nodes": nodes, "edges": edges}


__all__ = [
    "ACTIONS",
    "Action",
    "MCTSNode",
    "MCTSOptions",
    "MCTSTree",
    "VoteResult",
    "allowed_actions",
    "backpropagate",
    "rollout_action",
    "select",
    "tree_agreement",
    "tree_data",
    "uct",
    "weighted_vote",
]
