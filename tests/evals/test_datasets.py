"""Dataset loaders on the real shared data, and their errors on malformed files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sleuth.errors import DatasetError
from sleuth.evals.datasets import EvalExample, list_datasets, load_dataset, shuffled

SIZES = {
    "hotpotqa-sandbox": 1448, "hotpotqa-tune": 448, "hotpotqa-random": 1000, "hotpotqa-random-tune": 448,
    "musique-mini": 100, "musique-dev": 2417,
    "2wikimultihopqa-dev": 12576, "bamboogle": 125, "nq": 1000, "triviaqa": 1000, "popqa": 1000,
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_shared_dataset_loads(name: str, shared_data: Path) -> None:
    ds = load_dataset(name, data_dir=shared_data)
    assert len(ds) == SIZES[name] and len(ds.sha256) == 64
    assert len({e.id for e in ds.examples}) == len(ds)
    assert all(e.question and e.answers and all(a.strip() for a in e.answers) for e in ds.examples)


def test_gold_evidence_is_kept_and_lies_in_the_corpus(shared_data: Path) -> None:
    for name in ("hotpotqa-sandbox", "musique-mini"):
        ds = load_dataset(name, data_dir=shared_data)
        assert ds.corpus is not None and ds.corpus.is_file()
        with gzip.open(ds.corpus, "rt") as f:
            corpus_ids = {json.loads(line)["id"] for line in f}
        assert all(e.gold_ids and set(e.gold_ids) <= corpus_ids for e in ds.examples)
    hotpot = load_dataset("hotpotqa", data_dir=shared_data, limit=1).examples[0]
    assert hotpot.gold_ids == ["hp001589", "hp001032"]
    assert hotpot.gold_titles == ["American Hardcore (film)", "A Summer in the Cage"]
    assert hotpot.meta["type"] == "comparison"
    musique = load_dataset("musique-mini", data_dir=shared_data, limit=1).examples[0]
    assert musique.answers == ["G. Stanley Hall", "Stanley Hall"] and musique.meta["hops"] == 2


def test_tuning_split_is_disjoint_from_the_reported_questions(shared_data: Path) -> None:
    reported = load_dataset("hotpotqa-sandbox", data_dir=shared_data, limit=1000)
    tune = load_dataset("hotpotqa-tune", data_dir=shared_data)
    full = load_dataset("hotpotqa-sandbox", data_dir=shared_data)
    assert not {e.id for e in reported.examples} & {e.id for e in tune.examples}
    assert [e.id for e in tune.examples] == [e.id for e in full.examples[1000:]]
    assert tune.corpus == full.corpus and all(e.gold_ids for e in tune.examples)


def test_random_splits_partition_one_seeded_shuffle_with_the_datasets_mix(shared_data: Path) -> None:
    full = load_dataset("hotpotqa-sandbox", data_dir=shared_data).examples
    report = load_dataset("hotpotqa-random", data_dir=shared_data).examples
    tune = load_dataset("hotpotqa-random-tune", data_dir=shared_data).examples
    ids = [e.id for e in report + tune]
    assert sorted(ids) == sorted(e.id for e in full) and len(set(ids)) == len(full)
    assert [e.id for e in shuffled(full, 0)] == ids  # one order, cut in two
    assert [e.id for e in shuffled(list(reversed(full)), 0)] == ids  # not the file's order
    assert [e.id for e in shuffled(full, 1)] != ids
    head = load_dataset("hotpotqa-random", data_dir=shared_data, limit=100).examples
    assert [e.id for e in head] == ids[:100]

    def yes_no(examples: list[EvalExample]) -> int:
        return sum(e.answers[0].lower() in ("yes", "no") for e in examples)

    # the sorted file's head is mostly yes/no; a random head has about the whole's 9 %
    assert yes_no(full[:100]) == 66 and yes_no(full) == 129
    assert 3 <= yes_no(head) <= 17 and 3 <= yes_no(tune[:100]) <= 17


def test_skip_and_limit_select_a_slice_in_the_datasets_order(shared_data: Path) -> None:
    whole = [e.id for e in load_dataset("hotpotqa-random-tune", data_dir=shared_data).examples]
    part = load_dataset("hotpotqa-random-tune", data_dir=shared_data, skip=40, limit=20)
    assert [e.id for e in part.examples] == whole[40:60]
    tail = load_dataset("hotpotqa-random-tune", data_dir=shared_data, skip=len(whole) - 3, limit=20)
    assert [e.id for e in tail.examples] == whole[-3:]
    assert load_dataset("hotpotqa-random-tune", data_dir=shared_data, skip=len(whole)).examples == []


def test_limit_and_popqa_metadata(shared_data: Path) -> None:
    ds = load_dataset("popqa", data_dir=shared_data, limit=3)
    assert [e.id for e in ds.examples] == ["test_10207", *[e.id for e in ds.examples[1:]]]
    assert len(ds) == 3 and ds.examples[0].meta["s_wiki_title"] == "Easy Living (1937 film)"
    assert ds.examples[0].answers == ["Ralph Rainger", "Ralph Reichenthal"]


def test_unknown_dataset_lists_what_exists() -> None:
    with pytest.raises(DatasetError) as err:
        load_dataset("hotpot-fullwiki")
    assert "Unknown dataset 'hotpot-fullwiki'" in str(err.value)
    for name in list_datasets():
        assert name in str(err.value)


def test_missing_data_dir_says_how_to_point_at_it(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="SLEUTH_SHARED_DATA"):
        load_dataset("nq", data_dir=tmp_path)


def test_flashrag_file_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    rows = [{"id": "a", "question": "Q1?", "golden_answers": ["x", "y"]},
            {"id": "b", "question": "Q2?", "answer": "z", "gold_paragraph_ids": ["p1"]}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    ds = load_dataset(str(path))
    assert [(e.id, e.answers, e.gold_ids) for e in ds.examples] == [
        ("a", ["x", "y"], []), ("b", ["z"], ["p1"]),
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('{"id": "b", "question": "Q?", "golden_answers": ', "not valid JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"id": "b", "question": "Q?"}', "'answer'"),
        ('{"id": "b", "question": "", "golden_answers": ["x"]}', "'question'"),
        ('{"id": "b", "question": "Q?", "golden_answers": []}', "'golden_answers' is empty"),
        ('{"id": "a", "question": "Q?", "golden_answers": ["x"]}', "duplicate id 'a'"),
    ],
)
def test_malformed_lines_are_reported_with_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "question": "Q?", "golden_answers": ["x"]}\n\n' + line + "\n")
    with pytest.raises(DatasetError) as err:
        load_dataset(str(path))
    assert f"{path}:3:" in str(err.value) and why in str(err.value)
    assert err.value.details["line"] == 3
