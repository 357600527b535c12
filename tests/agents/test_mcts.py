"""The MCTS tree policy on hand-built trees: allowed actions, UCT, back-propagation, voting."""

from __future__ import annotations

import math
import random

import pytest

from sleuth.agents.mcts import (
    MCTSNode,
    MCTSTree,
    allowed_actions,
    backpropagate,
    rollout_action,
    select,
    tree_agreement,
    tree_data,
    uct,
    weighted_vote,
)
from sleuth.agents.mcts_actions import action_cost


def _tree(max_depth: int = 4) -> MCTSTree:
    return MCTSTree.new("q", max_depth)


def _answer(tree: MCTSTree, parent: int, answer: str, reward: float) -> MCTSNode:
    return tree.add_child(parent, MCTSNode(id=-1, action="direct_answer", answer=answer, reward=reward))


def test_allowed_actions_by_depth() -> None:
    assert set(allowed_actions(0, 4)) == {
        "direct_answer", "quick_reasoning", "decompose", "retrieval_reasoning", "retrieval_decompose"}
    assert "summarised_answer" in allowed_actions(1, 4)
    assert allowed_actions(3, 4) == ["direct_answer", "summarised_answer"]
    assert allowed_actions(0, 1) == ["direct_answer"]


def test_children_get_depth_terminality_and_untried_actions() -> None:
    tree = _tree(max_depth=2)
    step = tree.add_child(0, MCTSNode(id=-1, action="quick_reasoning", text="Step 1: x"))
    assert (step.id, step.depth, step.terminal) == (1, 1, False)
    assert step.untried == ["direct_answer", "summarised_answer"]
    end = _answer(tree, step.id, "x", 1.0)
    assert end.terminal and end.untried == []
    assert [n.id for n in tree.path(end.id)] == [1, 2]
    dead = tree.add_child(0, MCTSNode(id=-1, action="decompose", dead=True))
    assert dead.terminal and dead not in tree.terminals()


def test_uct_prefers_unvisited_then_balances_value_and_exploration() -> None:
    a = MCTSNode(id=1, visits=4, value_sum=4.0)
    b = MCTSNode(id=2, visits=1, value_sum=0.5)
    assert uct(MCTSNode(id=3), 5, 2.0) == math.inf
    assert uct(a, 5, 2.0) == pytest.approx(1.0 + 2.0 * math.sqrt(math.log(5) / 4))
    assert uct(b, 5, 2.0) > uct(a, 5, 2.0)  # exploration wins with c = 2
    assert uct(b, 5, 0.0) < uct(a, 5, 0.0)  # pure exploitation


def test_select_descends_by_uct_only_through_fully_expanded_nodes() -> None:
    tree = _tree()
    assert select(tree, 2.0) == 0  # the root still has untried actions
    tree.nodes[0].untried = []
    good = tree.add_child(0, MCTSNode(id=-1, action="quick_reasoning"))
    bad = tree.add_child(0, MCTSNode(id=-1, action="decompose"))
    for node, value in ((good, 1.0), (bad, 0.0)):
        backpropagate(tree, node.id, value)
    for _ in range(3):
        backpropagate(tree, good.id, 1.0)
    assert select(tree, 0.0) == good.id
    assert select(tree, 100.0) == bad.id


def test_backpropagate_updates_the_whole_path() -> None:
    tree = _tree()
    step = tree.add_child(0, MCTSNode(id=-1, action="quick_reasoning"))
    end = _answer(tree, step.id, "London", 0.5)
    backpropagate(tree, end.id, 0.5)
    backpropagate(tree, end.id, 1.0)
    assert [(n.visits, n.value_sum) for n in tree.nodes] == [(2, 1.5), (2, 1.5), (2, 1.5)]
    assert tree.nodes[1].q == pytest.approx(0.75)


def test_weighted_vote_sums_rewards_per_normalised_answer() -> None:
    tree = _tree()
    _answer(tree, 0, "Paris", 1.0)
    _answer(tree, 0, "the London", 0.6)
    _answer(tree, 0, "London.", 0.6)
    vote = weighted_vote(tree)
    assert vote.answer == "the London" and vote.node_ids == [2, 3]
    assert vote.confidence == pytest.approx(1.2 / 2.2)
    assert weighted_vote(_tree()).answer == ""


def test_tree_agreement_counts_matching_terminals() -> None:
    tree = _tree()
    _answer(tree, 0, "London", 1.0)
    _answer(tree, 0, "Paris", 1.0)
    assert tree_agreement(tree, "london") == pytest.approx(2 / 3)
    assert tree_agreement(tree, "") == 0.0


def test_rollout_policy_is_seeded_and_legal() -> None:
    node = MCTSNode(id=1, depth=3)
    picks = {rollout_action(node, 4, random.Random(i)) for i in range(20)}
    assert picks == {"direct_answer", "summarised_answer"}
    first = [rollout_action(MCTSNode(id=0), 4, random.Random("0-1")) for _ in range(2)]
    assert first[0] == first[1]


def test_tree_data_has_an_edge_per_child() -> None:
    tree = _tree()
    _answer(tree, 0, "x", 1.0)
    data = tree_data(tree)
    assert data["edges"] == [[0, 1]] and len(data["nodes"]) == 2  # type: ignore[arg-type]


def test_action_costs() -> None:
    assert action_cost("decompose", 3) == 2 and action_cost("retrieval_reasoning", 3) == 1
    assert action_cost("direct_answer", 3) == 3 and action_cost("summarised_answer", 3) == 4
