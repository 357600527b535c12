"""Evaluation datasets: the shared offline data and any FlashRAG-format file.

Every loader yields :class:`EvalExample` (id, question, gold answers, gold evidence ids
where the dataset has them). Names::

    hotpotqa-sandbox     1,448 HotpotQA questions with gold paragraph ids (main benchmark)
    hotpotqa-tune        its questions 1,001-1,448: tune prompts here, report on the first 1,000
    hotpotqa-random      1,000 of them in a fixed random order: ``--limit N`` is a fair sample
    hotpotqa-random-tune the other 448, in random order: tune for hotpotqa-random here
    musique-mini         100 MuSiQue questions with gold paragraph ids and their corpus
    musique-dev          2,417 MuSiQue dev questions, answers only
    2wikimultihopqa-dev  12,576 2WikiMultihopQA dev questions, answers only
    bamboogle, nq, triviaqa, popqa   FlashRAG-format questions, answers only

The HotpotQA file is sorted by question text, so its head is not a sample: 66 of the first
100 questions have a yes/no answer ("Are ... both ...?"), against 9 % of the whole, and the
last 448 (``hotpotqa-tune``) are almost all "Which/Who/Where" questions (one yes/no).
``hotpotqa-random`` and ``hotpotqa-random-tune`` split one seeded shuffle of all 1,448, so
both have the dataset's mix.

A path to a ``.jsonl[.gz]`` file also works: FlashRAG (``id``, ``question``,
``golden_answers``) or Sleuth's shape (``id``, ``question``, ``answer`` or ``answers``,
optional ``gold_paragraph_ids``, ``gold_titles`` and ``metadata``), which
:func:`write_examples` writes. The shared data folder is found through ``data_dir``,
``$SLEUTH_SHARED_DATA``, or a ``shared/data`` folder beside the current directory or any
of its parents.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from sleuth.atomic import write_text_atomic
from sleuth.errors import DatasetError
from sleuth.types import StrictModel


class EvalExample(StrictModel):
    id: str
    question: str
    answers: list[str]
    """Gold answers: the answer and its aliases."""
    gold_ids: list[str] = Field(default_factory=list)
    """Gold evidence paragraph ids in the dataset's corpus (empty when unknown)."""
    gold_titles: list[str] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class _BadRecord(Exception):
    pass


Parser = Callable[[dict[str, Any], int], EvalExample]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    file: str
    """Path inside the shared data folder."""
    parser: Parser
    description: str
    corpus: str | None = None
    """The corpus holding the gold evidence, inside the shared data folder."""
    first: int = 0
    """Skip the file's first questions (a split cut from a longer file)."""
    stop: int | None = None
    """Keep questions before this position (after shuffling, like ``first``)."""
    shuffle_seed: int | None = None
    """Order the questions by a seeded hash of their ids before ``first``/``stop``: a fixed
    random order, independent of the Python version and of the file's order."""


@dataclass
class Dataset:
    name: str
    path: Path
    sha256: str
    examples: list[EvalExample]
    corpus: Path | None = None
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.examples)


def _str(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise _BadRecord(f"field {key!r} must be a non-empty string")
    return str(value)


def _str_list(record: dict[str, Any], key: str, *, required: bool = True) -> list[str]:
    value = record.get(key, None if required else [])
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise _BadRecord(f"field {key!r} must be a list of strings")
    out = [str(v) for v in value if str(v).strip()]
    if required and not out:
        raise _BadRecord(f"field {key!r} is empty")
    return out


def _answers(record: dict[str, Any]) -> list[str]:
    if "golden_answers" in record:
        return _str_list(record, "golden_answers")
    if "answers" in record:
        return _str_list(record, "answers")
    answers = [_str(record, "answer")]
    answers += _str_list(record, "answer_aliases", required=False)
    return list(dict.fromkeys(answers))


def parse_hotpotqa(record: dict[str, Any], lineno: int) -> EvalExample:
    return EvalExample(
        id=_str(record, "id"),
        question=_str(record, "question").strip(),
        answers=_answers(record),
        gold_ids=_str_list(record, "gold_paragraph_ids"),
        gold_titles=_str_list(record, "gold_titles", required=False),
        meta={k: record[k] for k in ("type", "level", "split") if k in record},
    )


def parse_musique(record: dict[str, Any], lineno: int) -> EvalExample:
    qid = _str(record, "id")
    return EvalExample(
        id=qid,
        question=_str(record, "question").strip(),
        answers=_answers(record),
        gold_ids=_str_list(record, "gold_paragraph_ids"),
        meta={"hops": int(qid[0]) if qid[:1].isdigit() else None, "split": record.get("split")},
    )


def _qa_only(prefix: str) -> Parser:
    def parse(record: dict[str, Any], lineno: int) -> EvalExample:
        qid = str(record["id"]) if "id" in record else f"{prefix}-{lineno}"
        return EvalExample(id=qid, question=_str(record, "question").strip(),
                           answers=_answers(record))

    return parse


def parse_flashrag(record: dict[str, Any], lineno: int) -> EvalExample:
    """FlashRAG's ``id``, ``question``, ``golden_answers`` (and Sleuth's own shape)."""
    qid = str(record["id"]) if "id" in record else f"line-{lineno}"
    meta = record.get("metadata")
    return EvalExample(
        id=qid,
        question=_str(record, "question").strip(),
        answers=_answers(record),
        gold_ids=_str_list(record, "gold_paragraph_ids", required=False),
        gold_titles=_str_list(record, "gold_titles", required=False),
        meta=meta if isinstance(meta, dict) else {},
    )


def example_record(example: EvalExample) -> dict[str, Any]:
    """``example`` as one line of a dataset file that :func:`parse_flashrag` reads back whole
    (gold evidence titles and metadata included, so masking hides the same pages)."""
    return {"id": example.id, "question": example.question, "golden_answers": example.answers,
            "gold_paragraph_ids": example.gold_ids, "gold_titles": example.gold_titles, "metadata": example.meta}


def write_examples(path: Path, examples: list[EvalExample]) -> None:
    """Write ``examples`` as a JSONL dataset (``--dataset PATH``), atomically."""
    write_text_atomic(path, [json.dumps(example_record(e), ensure_ascii=False) + "\n" for e in examples])


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("hotpotqa-sandbox", "hotpotqa_sandbox/questions.jsonl.gz", parse_hotpotqa,
                    "1,448 HotpotQA questions with gold paragraphs in the sandbox corpus",
                    corpus="hotpotqa_sandbox/corpus.jsonl.gz"),
        DatasetSpec("hotpotqa-tune", "hotpotqa_sandbox/questions.jsonl.gz", parse_hotpotqa,
                    "questions 1,001-1,448 of hotpotqa-sandbox, for tuning prompts and thresholds "
                    "(reported results use the first 1,000)",
                    corpus="hotpotqa_sandbox/corpus.jsonl.gz", first=1000),
        DatasetSpec("hotpotqa-random", "hotpotqa_sandbox/questions.jsonl.gz", parse_hotpotqa,
                    "1,000 hotpotqa-sandbox questions in a fixed random order (the file is sorted "
                    "by question text; --limit N here is a fair sample)",
                    corpus="hotpotqa_sandbox/corpus.jsonl.gz", stop=1000, shuffle_seed=0),
        DatasetSpec("hotpotqa-random-tune", "hotpotqa_sandbox/questions.jsonl.gz", parse_hotpotqa,
                    "the other 448 of the same shuffle, for tuning what hotpotqa-random reports",
                    corpus="hotpotqa_sandbox/corpus.jsonl.gz", first=1000, shuffle_seed=0),
        DatasetSpec("musique-mini", "musique_mini/questions.jsonl.gz", parse_musique,
                    "100 MuSiQue (train) questions, 2-4 hops, with their paragraph corpus",
                    corpus="musique_mini/corpus.jsonl.gz"),
        DatasetSpec("musique-dev", "multihop_qa_only/musique_dev_qa.jsonl.gz",
                    _qa_only("musique-dev"), "2,417 MuSiQue dev questions, answers only"),
        DatasetSpec("2wikimultihopqa-dev", "multihop_qa_only/2wikimultihopqa_dev_qa.jsonl.gz",
                    _qa_only("2wiki-dev"), "12,576 2WikiMultihopQA dev questions, answers only"),
        DatasetSpec("bamboogle", "open_domain_qa/bamboogle_test_125.jsonl.gz", parse_flashrag,
                    "125 Bamboogle questions (FlashRAG format)"),
        DatasetSpec("nq", "open_domain_qa/nq_test_1000.jsonl.gz", parse_flashrag,
                    "1,000 Natural Questions test questions (FlashRAG format)"),
        DatasetSpec("triviaqa", "open_domain_qa/triviaqa_test_1000.jsonl.gz", parse_flashrag,
                    "1,000 TriviaQA test questions (FlashRAG format)"),
        DatasetSpec("popqa", "open_domain_qa/popqa_test_1000.jsonl.gz", parse_flashrag,
                    "1,000 PopQA questions (FlashRAG format)"),
    )
}
ALIASES = {"hotpotqa": "hotpotqa-sandbox", "musique": "musique-mini",
           "2wikimultihopqa": "2wikimultihopqa-dev", "2wiki": "2wikimultihopqa-dev"}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The shared data folder: explicit, ``$SLEUTH_SHARED_DATA``, or ``shared/data`` upward."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("SLEUTH_SHARED_DATA")
    if env:
        return Path(env)
    cwd = Path.cwd().resolve()
    for base in (cwd, *cwd.parents):
        if (base / "shared" / "data").is_dir():
            return base / "shared" / "data"
    return cwd / "shared" / "data"


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line; bad lines raise with file:line."""
    with open(path, "rb") as probe:
        opener: Any = gzip.open if probe.read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise _line_error(path, lineno, f"not valid JSON ({exc})") from exc
            if not isinstance(record, dict):
                raise _line_error(path, lineno, "expected a JSON object")
            yield lineno, record


def _line_error(path: Path, lineno: int, why: str) -> DatasetError:
    return DatasetError(f"{path}:{lineno}: {why}", hint="fix or remove the line",
                        path=str(path), line=lineno)


def read_examples(path: Path, parser: Parser) -> list[EvalExample]:
    examples: list[EvalExample] = []
    seen: set[str] = set()
    for lineno, record in iter_jsonl(path):
        try:
            example = parser(record, lineno)
        except _BadRecord as exc:
            raise _line_error(path, lineno, str(exc)) from exc
        if example.id in seen:
            raise _line_error(path, lineno, f"duplicate id {example.id!r}")
        seen.add(example.id)
        examples.append(example)
    if not examples:
        raise DatasetError(f"{path} holds no questions.", path=str(path))
    return examples


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_dataset(
    name: str, *, data_dir: str | Path | None = None, limit: int | None = None, skip: int = 0
) -> Dataset:
    """Load a dataset by name (see :data:`DATASETS`) or from a JSONL file path: its questions
    in the dataset's order, less the first ``skip``, then at most ``limit`` of them."""
    key = ALIASES.get(name, name)
    spec = DATASETS.get(key)
    if spec is None:
        candidate = Path(name)
        if candidate.suffix in (".jsonl", ".gz", ".json") and candidate.is_file():
            return _load_file(candidate, parse_flashrag, candidate.name, None, "", limit, skip=skip)
        raise DatasetError(
            f"Unknown dataset {name!r}.",
            hint=f"choose one of: {', '.join(list_datasets())}, or pass a .jsonl file",
            dataset=name,
        )
    root = resolve_data_dir(data_dir)
    path = root / spec.file
    if not path.is_file():
        raise DatasetError(
            f"Dataset file {path} not found.",
            hint="pass --data-dir or set SLEUTH_SHARED_DATA to the shared data folder",
            path=str(path),
        )
    corpus = root / spec.corpus if spec.corpus else None
    return _load_file(path, spec.parser, spec.name, corpus, spec.description, limit, spec, skip=skip)


def shuffled(examples: list[EvalExample], seed: int) -> list[EvalExample]:
    """``examples`` ordered by ``sha256(f"{seed}:{id}")``: a fixed random order."""
    return sorted(examples, key=lambda e: hashlib.sha256(f"{seed}:{e.id}".encode()).digest())


def _load_file(
    path: Path, parser: Parser, name: str, corpus: Path | None, description: str,
    limit: int | None, spec: DatasetSpec | None = None, *, skip: int = 0,
) -> Dataset:
    examples = read_examples(path, parser)
    if spec is not None:
        if spec.shuffle_seed is not None:
            examples = shuffled(examples, spec.shuffle_seed)
        examples = examples[spec.first:spec.stop]
    examples = examples[max(skip, 0):]
    if limit is not None:
        examples = examples[: max(limit, 0)]
    return Dataset(name=name, path=path, sha256=sha256_file(path), examples=examples,
                   corpus=corpus, description=description)


__all__ = [
    "DATASETS",
    "Dataset",
    "DatasetSpec",
    "EvalExample",
    "example_record",
    "list_datasets",
    "load_dataset",
    "parse_flashrag",
    "resolve_data_dir",
    "shuffled",
    "write_examples",
]
