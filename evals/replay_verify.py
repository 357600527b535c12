"""Re-score recorded EvidenceLoop runs under another ``verify`` setting, without a model.

An EvidenceLoop trace records each search's passage ids, each evidence note's claims with the
passage ids behind them, and each verification with the judge's verdict. That is enough to
ask what another way of combining the checks would have answered. Walk the trace. At each
verification, re-run the model-free checks (:func:`sleuth.agents.evidence_steps.check_draft`:
the names, the echo, the answer string in the cited passages) with the code as it is now
and the passages read by then. Reuse the judge's recorded verdict, and stop at the first
draft the setting accepts.

With greedy decoding, a run under another setting takes the recorded path up to the first
verification where the two settings disagree, so a replay that accepts there is exact. Two
cases are not:

- ``truncated``: the replay rejects a draft the recorded run accepted. A real run would have
  searched again, but the trace ends there. Or the replay rejects a draft as the run did, but
  would search for something else next: with ``connect`` the answer together with a name, or
  another missing name (the next search that needs no model, :func:`next_search`), where the
  run searched for another. The row counts as an abstention.
- ``undecided``: the setting needs the judge on a draft the recorded run never asked it
  about. The draft counts as rejected.

Report both counts with any replayed number (:class:`ReplaySummary` does), or make them
exact: :func:`rerun_examples` gives those questions as a dataset to run for real under the
replayed setting, and ``reruns`` (:func:`load_rerun`) puts each such run's answer in place of
the replay's (``rerun`` rows). A question whose
recorded run failed (a timeout, a crash) stays a failure, scored 0 and not counted as an
abstention, as the runner records it.

With ``on_unsupported="best-draft"`` a row that accepts no draft answers with the majority of
its drafts, as the run would have at the end of its budget (exact, since the path is the
same); a truncated or failed row stays without an answer.

Each row that accepted no draft says why (``refused_by``: the check that rejected its last
draft), and whether a right draft was among those rejected (``right_refused``);
:func:`format_refusals` tabulates both (``sleuth eval replay-verify --why``).

A different ``judge_min_p_yes`` re-reads each recorded verdict from the judge's P(yes), which
the trace shows to two decimals ("[judge] yes (p_yes 0.29, min 0.25)"): a P(yes) within
rounding of the new threshold is ``undecided``. Verdicts without a P(yes) (engines without
log-probabilities decide by the greedy word) are kept. The threshold a verdict was reached at
is the one its trace line states; older traces do not state it, and their run's manifest
gives it, or, when the run used the default, :data:`UNSTATED_MIN_P_YES` (so a later change
of the default does not change how older runs replay).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sleuth.agents.answers import majority
from sleuth.agents.evidence_steps import (
    EvidenceLoopOptions,
    Judgement,
    Verification,
    VerifyMode,
    check_draft,
    next_search,
    noted_judge,
)
from sleuth.agents.ledger import Claim, EvidenceLedger, EvidenceNote
from sleuth.atomic import building_directory, write_text_atomic
from sleuth.errors import ConfigError, EvalError
from sleuth.evals.datasets import EvalExample, load_dataset
from sleuth.evals.metrics import exact_match, f1_score, question_metrics
from sleuth.evals.refusals import (
    JUDGE_UNDECIDED,
    NO_DRAFT,
    REFUSAL_HEADER,
    Refusal,
    acceptance,
    by_evidence,
    gave_unverified,
    refusal_cells,
    right_draft,
)
from sleuth.evals.rundir import (
    RESULTS_FILE,
    RUN_FILE,
    ResultsFile,
    RunConfig,
    RunManifest,
    latest_rows,
    read_manifest,
)
from sleuth.types import Passage, StrictModel

PageLookup = Callable[[str], Passage | None]


class ReplayRow(StrictModel):
    id: str
    masked: bool
    recorded: str | None
    """The recorded answer; ``None`` when the run abstained (or failed)."""
    replayed: str | None
    """The first draft the setting accepts; ``None``: abstained."""
    em: float
    f1: float
    recorded_f1: float
    truncated: bool = False
    undecided: bool = False
    unverified: bool = False
    """``replayed`` is the drafts' majority given unverified (``on_unsupported="best-draft"``)."""
    error: bool = False
    """The recorded question failed (a timeout, a crash): no answer, and no abstention either."""
    rerun: bool = False
    """The replay could not decide this question, so its row is a real rerun's (see :class:`Rerun`)."""
    refused_by: str | None = None
    """Why no draft was accepted, on a row that accepted none and ran its course (not truncated,
    not failed): the check that rejected its last draft (:meth:`Verification.failed_check`),
    :data:`~sleuth.evals.refusals.JUDGE_UNDECIDED`, or :data:`~sleuth.evals.refusals.NO_DRAFT`
    when it never drafted."""
    right_refused: bool = False
    """A draft the setting rejected was right (:func:`sleuth.evals.refusals.right_draft`)."""
    sufficient: bool | None = None
    """Whether the run had read all the gold evidence (its ``sufficient`` metric)."""
    accepted_by: str | None = None
    """What accepted ``replayed`` (:func:`sleuth.evals.refusals.acceptance`); None when no
    draft was accepted."""

    @property
    def abstained(self) -> bool:
        """No answer under the replayed setting; a failure stays a failure, as the runner records it."""
        return self.replayed is None and not self.error


class ReplaySummary(StrictModel):
    verify: str
    masked: bool
    questions: int
    abstained: float
    em: float
    f1: float
    changed: int
    """Questions whose answer (or abstention) differs from the recorded one."""
    truncated: int
    undecided: int
    unverified: int = 0
    rerun: int = 0
    """Questions answered by a real rerun instead (they are exact, and not truncated)."""


UNSTATED_MIN_P_YES = 0.25
"""The judge threshold of a run whose manifest does not set one and whose trace does not state
it: the default of every run recorded before judge notes stated their threshold."""


def _judge_of(data: dict[str, Any]) -> Judgement | None:
    judge = data.get("judge")
    return judge if judge in ("yes", "no", "unclear") else None  # "skipped": never asked


def rethreshold(recorded: Judgement | None, p_yes: float | None, threshold: float,
                recorded_threshold: float) -> Judgement | None:
    """The judge's verdict at ``threshold``, from the one recorded at ``recorded_threshold``
    and the P(yes) shown to two decimals; ``None`` when it cannot be told (never asked, or a
    P(yes) within rounding of the new threshold)."""
    if recorded is None or p_yes is None or threshold == recorded_threshold:
        return recorded
    if abs(p_yes - threshold) < 0.005 + 1e-9:
        return None
    return "yes" if p_yes >= threshold else "no"


@dataclass
class VerificationPoint:
    """One verification as a trace recorded it, with what the agent had read by then. The lists
    and the ledger are live: the walk goes on changing them, so use them before the next step."""

    data: dict[str, Any]
    """The verification note's data: answer, judge, reason..."""
    ledger: EvidenceLedger
    context: list[Passage]
    """Passages found by searches for the question (they cover a name by mentioning it)."""
    titled: list[Passage]
    """Passages found by searches for a bare name (they cover it by their title)."""
    p_yes: float | None
    """The judge's P(yes) on this draft, as the trace shows it; None when not asked or not shown."""
    min_p_yes: float | None = None
    """The threshold the judge was held to, as the trace shows it (traces since 2026-11-30)."""
    tried: list[str] = field(default_factory=list)
    """The queries searched so far."""


def verification_points(row: dict[str, Any], pages: PageLookup) -> Iterator[VerificationPoint]:
    """Walk an EvidenceLoop result row's trace: rebuild the passages read and the evidence
    ledger, and stop at each verification."""
    context: list[Passage] = []
    titled: list[Passage] = []
    seen: set[str] = set()
    hits: list[Passage] = []
    ledger = EvidenceLedger()
    name_search = False
    p_yes: float | None = None
    min_p_yes: float | None = None
    tried: list[str] = []
    for event in row.get("trace") or []:
        kind, data = event.get("type"), event.get("data") or {}
        if kind == "search":
            tried.append(str(event.get("query") or ""))
        elif kind == "think" and (noted := noted_judge(str(event.get("text") or ""))) is not None:
            p_yes, min_p_yes = noted
        elif kind == "note" and event.get("kind") == "plan":
            name_search = bool(data.get("name_search"))
        elif kind == "information":
            hits = [p for i in event.get("ids") or [] if (p := pages(str(i))) is not None]
            for passage in hits:
                if passage.id not in seen:
                    seen.add(passage.id)
                    (titled if name_search else context).append(passage)
            name_search = False
        elif kind == "note" and event.get("kind") == "evidence_note":
            claims = [Claim.model_validate(c) for c in data.get("claims") or []]
            ledger.add(EvidenceNote(hop=int(data.get("hop") or 0), text=str(event.get("text") or ""),
                                    claims=claims), hits)
        elif kind == "note" and event.get("kind") == "verification":
            yield VerificationPoint(data=data, ledger=ledger, context=context, titled=titled, p_yes=p_yes,
                                    min_p_yes=min_p_yes, tried=tried)
            p_yes = min_p_yes = None


def _replay_row(row: dict[str, Any], options: EvidenceLoopOptions, pages: PageLookup,
                recorded_min_p_yes: float) -> ReplayRow:
    question, gold = str(row["question"]), [str(g) for g in row.get("gold") or []]
    recorded = _answer_of(row)
    undecided = diverged = False
    accepted: str | None = None
    accepted_by: str | None = None
    drafts: list[str] = []
    refused_by = NO_DRAFT
    right_refused = False
    planned = _planned(row)
    for i, point in enumerate(verification_points(row, pages)):
        answer = str(point.data.get("answer") or "")
        checks = check_draft(question, answer, point.ledger, point.context, point.titled, options)
        drafts.append("" if checks.empty else answer)
        judge: Judgement = "skipped"
        unknown = False
        if checks.needs_judge(options.verify):
            held_to = point.min_p_yes if point.min_p_yes is not None else recorded_min_p_yes
            recorded_judge = rethreshold(_judge_of(point.data), point.p_yes, options.judge_min_p_yes, held_to)
            undecided |= (unknown := recorded_judge is None)  # counted as rejected
            judge = recorded_judge or "no"
        verdict = checks.verification(options.verify, judge)
        if verdict.supported and not unknown:
            accepted, accepted_by = answer, acceptance(verdict)
            break
        refused_by = JUDGE_UNDECIDED if unknown else verdict.failed_check(options.verify)
        right_refused |= not checks.empty and right_draft(answer, gold)
        if i < len(planned) and planned[i] and _searches_elsewhere(verdict, point):
            diverged = True  # the setting's next search is not the run's: the trace cannot say what it finds
            break
    # A recorded answer the run gave unverified (best-draft) ended its search like an abstention.
    truncated = accepted is None and (diverged or recorded is not None and not gave_unverified(row))
    replayed = accepted
    if accepted is None and not truncated and not row.get("error") and options.on_unsupported == "best-draft":
        replayed = majority(drafts)[0] or None
    return ReplayRow(
        id=str(row["id"]), masked=bool(row.get("masked")), recorded=recorded, replayed=replayed,
        em=exact_match(replayed, gold) if replayed is not None else 0.0,
        f1=f1_score(replayed, gold) if replayed is not None else 0.0,
        recorded_f1=f1_score(recorded, gold) if recorded is not None else 0.0,
        truncated=truncated, undecided=undecided and accepted is None,
        unverified=accepted is None and replayed is not None, error=bool(row.get("error")),
        refused_by=refused_by if accepted is None and not truncated and not row.get("error") else None,
        right_refused=right_refused, sufficient=(row.get("metrics") or {}).get("sufficient"), accepted_by=accepted_by,
    )


def _answer_of(row: dict[str, Any]) -> str | None:
    """The answer a result line gives; ``None`` when it abstained or failed."""
    return None if row.get("abstained") or row.get("error") else str(row.get("prediction") or "")


def _planned(row: dict[str, Any]) -> list[bool]:
    """For each verification in ``row``'s trace: whether the run planned a search after it."""
    out: list[bool] = []
    for event in row.get("trace") or []:
        if event.get("type") == "note" and event.get("kind") == "verification":
            out.append(False)
        elif event.get("type") == "note" and event.get("kind") == "plan" and out:
            out[-1] = True
    return out


def _searches_elsewhere(verdict: Verification, point: VerificationPoint) -> bool:
    """Whether, after rejecting this draft, the setting would search for another name than the
    run did (the plan takes the first name query not tried yet, else asks the model)."""
    try:
        recorded = Verification.model_validate(point.data)
    except ValidationError:
        return False  # a trace older than the verification's fields: assume the recorded path
    return next_search(verdict.next_queries(), point.tried) != next_search(recorded.next_queries(), point.tried)


def replay_rows(rows: Iterable[dict[str, Any]], options: EvidenceLoopOptions, pages: PageLookup,
                recorded_min_p_yes: float | None = None) -> list[ReplayRow]:
    """Replay each result row (the latest per question) under ``options``.
    ``recorded_min_p_yes``: the judge threshold the rows were recorded with (by default the
    one in ``options``: the recorded verdicts stand)."""
    recorded = options.judge_min_p_yes if recorded_min_p_yes is None else recorded_min_p_yes
    return [_replay_row(row, options, pages, recorded) for row in latest_rows(list(rows))]


def replay_run(run_dir: Path, verify: VerifyMode, pages: PageLookup,
               options: dict[str, Any] | None = None, reruns: Sequence[Rerun] = ()) -> list[ReplayRow]:
    """Replay an evidence-loop run directory under ``verify``; the run's other options
    (``coverage``, ``connect``) are kept unless ``options`` overrides them. A question the
    replay cannot decide is taken from the first of ``reruns`` that ran it."""
    config, rows = evidence_loop_config(run_dir), latest_rows(read_rows(run_dir))
    return _replay_recorded(config, rows, verify, pages, options, reruns)[1]


def _settings(config: RunConfig, options: dict[str, Any] | None = None) -> EvidenceLoopOptions:
    """The options a run was made with (its gate aside), with ``options`` over them."""
    own = {k: v for k, v in config.options.items() if k != "gate"}
    return EvidenceLoopOptions.model_validate({**own, **(options or {})})


def _recorded_min_p_yes(config: RunConfig) -> float:
    return float(config.options.get("judge_min_p_yes", UNSTATED_MIN_P_YES))


def _replay_recorded(config: RunConfig, rows: list[dict[str, Any]], verify: VerifyMode, pages: PageLookup,
                     options: dict[str, Any] | None, reruns: Sequence[Rerun] = ()
                     ) -> tuple[list[dict[str, Any]], list[ReplayRow]]:
    """:func:`replay_run` over a run's configuration and its latest result lines, already
    read: the result lines (a rerun's where one answers) and their replays."""
    opts = _settings(config, {**(options or {}), "verify": verify})
    replayed = replay_rows(rows, opts, pages, _recorded_min_p_yes(config))
    if not reruns:
        return rows, replayed
    for rerun in reruns:
        rerun.check_completes(config, opts)
    out_rows, out = list(rows), list(replayed)
    for i, replay in enumerate(replayed):
        if not (replay.truncated or replay.undecided):
            continue
        found = next((r for r in reruns if replay.id in r.rows), None)
        if found is not None:
            row = found.rows[replay.id]
            again = replay_rows([row], opts, pages, _recorded_min_p_yes(found.config))[0]
            # still measured against what the replayed run recorded ("changed", "recorded")
            out_rows[i], out[i] = row, again.model_copy(update={"rerun": True, "recorded": replay.recorded,
                                                                "recorded_f1": replay.recorded_f1})
    return out_rows, out


RERUN_SHARES = ("engine", "follow_links", "sandbox", "index", "mask_gold", "mask_seed")
"""What a rerun shares with the run it stands in for, besides the replayed options."""


@dataclass
class Rerun:
    """A real evidence-loop run of the questions a replay could not decide
    (:func:`rerun_examples`), made with the replayed setting."""

    path: Path
    config: RunConfig
    rows: dict[str, dict[str, Any]]
    """The latest result line of each question, by id."""

    def check_completes(self, config: RunConfig, settings: EvidenceLoopOptions) -> None:
        """A ConfigError unless this run can stand in for questions of a run made with
        ``config`` and replayed under ``settings``: the same engine, retrieval and masking,
        and the replayed options themselves (``on_unsupported`` aside, which a replay applies
        exactly)."""
        differ = [f for f in RERUN_SHARES if getattr(self.config, f) != getattr(config, f)]
        mine, want = (o.model_dump(mode="json", exclude={"on_unsupported"}) for o in (_settings(self.config), settings))
        differ += sorted(k for k in want if mine.get(k) != want[k])
        if differ:
            raise ConfigError(f"{self.path} was not run as the replay asks ({', '.join(differ)} differ), so its "
                              "answers cannot stand in for the replay's.",
                              hint="rerun the questions with the replayed options (see --rerun-dataset)",
                              path=str(self.path))


def load_rerun(run_dir: Path) -> Rerun:
    """An evidence-loop run directory, read as a :class:`Rerun`."""
    config = evidence_loop_config(run_dir)
    return Rerun(path=run_dir, config=config, rows={str(r["id"]): r for r in latest_rows(read_rows(run_dir))})


def rerun_examples(run_dir: Path, replayed: Iterable[ReplayRow]) -> list[EvalExample]:
    """The questions of ``run_dir`` whose replay is not exact (truncated or undecided) as the
    run's dataset holds them, in its order: a dataset to run for real under the replayed
    setting, with the run's ``--mask-gold`` and ``--mask-seed`` (the masking draw is per
    question id, so the same questions are masked)."""
    want = {r.id for r in replayed if (r.truncated or r.undecided) and not r.rerun}
    if not want:
        return []
    config = evidence_loop_config(run_dir)
    examples = [e for e in load_dataset(config.dataset, data_dir=config.data_dir).examples if e.id in want]
    if missing := want - {e.id for e in examples}:
        raise EvalError(f"{len(missing)} questions of {run_dir} are not in its dataset {config.dataset!r} "
                        f"(for example {min(missing)!r}).", hint="pass the run's own dataset and --data-dir",
                        path=str(run_dir))
    return examples


def replayed_result(row: dict[str, Any], replay: ReplayRow, verify: str) -> dict[str, Any]:
    """``row`` (a result line) as the replay answered it: prediction, abstention and answer
    metrics recomputed; the recorded trace, usage, evidence recall and sufficiency kept (the
    replay follows the recorded path), and the citations where the answer is the recorded
    one; ``replay`` says what was replayed and how exactly."""
    recorded = row.get("metrics") or {}
    metrics = question_metrics(replay.replayed or "", [str(g) for g in row.get("gold") or []],
                               abstained=replay.abstained, masked=replay.masked, error=replay.error,
                               forced=replay.unverified)
    sufficient = recorded.get("sufficient")
    metrics = metrics.model_copy(update={"recall": recorded.get("recall"), "sufficient": sufficient,
                                         "utilisation": metrics.acc if sufficient else None})
    return {
        **row, "prediction": replay.replayed or "", "abstained": replay.abstained,
        "citations": row.get("citations", []) if replay.replayed == _answer_of(row) else [],
        "metrics": metrics.model_dump(mode="json"),
        "replay": {"verify": verify, "recorded": replay.recorded, "truncated": replay.truncated,
                   "undecided": replay.undecided, "unverified": replay.unverified, "rerun": replay.rerun,
                   "refused_by": replay.refused_by, "right_refused": replay.right_refused,
                   "accepted_by": replay.accepted_by},
    }


def write_replayed_run(run_dir: Path, out: Path, verify: VerifyMode, pages: PageLookup,
                       options: dict[str, Any] | None = None, command: list[str] | None = None,
                       reruns: Sequence[Rerun] = ()) -> list[ReplayRow]:
    """Replay ``run_dir`` (see :func:`replay_run`) and write the result as a run directory at
    ``out`` that ``sleuth eval report`` reads like any other: its manifest is the recorded
    one with the replayed options and ``replayed_from`` set, its results the replayed answers
    (a rerun's line, trace and costs included, where ``reruns`` answer a question).
    ``out`` must not exist; it appears complete or not at all."""
    if out.exists():
        raise EvalError(f"{out} already exists.", hint="choose a new --out; a replay never overwrites",
                        path=str(out))
    manifest = evidence_loop_manifest(run_dir)
    rows, replayed = _replay_recorded(manifest.config, latest_rows(read_rows(run_dir)), verify, pages, options,
                                      reruns)
    manifest.config.options = {**manifest.config.options, **(options or {}), "verify": verify}
    manifest.replayed_from = str(run_dir)
    manifest.reruns = [str(rerun.path) for rerun in reruns]
    manifest.command = list(command or [])
    manifest.created = time.time()
    lines = [json.dumps(replayed_result(row, replay, verify)) + "\n"
             for row, replay in zip(rows, replayed, strict=True)]
    with building_directory(out, mode=0o755) as tmp:  # a run directory, readable as eval run makes them
        write_text_atomic(tmp / RESULTS_FILE, lines)
        write_text_atomic(tmp / RUN_FILE, manifest.model_dump_json(indent=2))
    return replayed


def evidence_loop_config(run_dir: Path) -> RunConfig:
    """The configuration of an evidence-loop run directory; a ConfigError for any other method
    (only EvidenceLoop traces have verifications to replay or a judge to re-ask)."""
    return evidence_loop_manifest(run_dir).config


def evidence_loop_manifest(run_dir: Path) -> RunManifest:
    """The manifest of an evidence-loop run directory (see :func:`evidence_loop_config`)."""
    if not (run_dir / RUN_FILE).is_file():
        raise EvalError(f"{run_dir} is not a run directory (it has no {RUN_FILE}).",
                        hint="pass a directory written by sleuth eval run --out", path=str(run_dir))
    manifest = read_manifest(run_dir)
    if manifest.config.method != "evidence-loop":
        raise ConfigError(f"{run_dir} is a {manifest.config.method} run; only evidence-loop runs can be replayed "
                          "or rejudged.", hint="pass a run made with --method evidence-loop")
    return manifest


def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    """Every complete result line of a run directory, in file order (:func:`latest_rows` picks
    one per question); none yet for a run that has just started, and a line still being
    written by a live run is left out."""
    return ResultsFile(run_dir / RESULTS_FILE).rows()


def summarize(rows: list[ReplayRow], verify: str) -> list[ReplaySummary]:
    """One summary for the answerable rows and one for the masked, where there are any."""
    out: list[ReplaySummary] = []
    for masked in (False, True):
        part = [r for r in rows if r.masked is masked]
        if not part:
            continue
        n = len(part)
        out.append(ReplaySummary(
            verify=verify, masked=masked, questions=n,
            abstained=sum(r.abstained for r in part) / n,
            em=100 * sum(r.em for r in part) / n, f1=100 * sum(r.f1 for r in part) / n,
            changed=sum(r.replayed != r.recorded for r in part),
            truncated=sum(r.truncated for r in part), undecided=sum(r.undecided for r in part),
            unverified=sum(r.unverified for r in part), rerun=sum(r.rerun for r in part),
        ))
    return out


def format_summaries(summaries: list[ReplaySummary]) -> str:
    head = "| verify | evidence | questions | EM | F1 | abstained | unverified | changed | truncated | undecided | rerun |"
    lines = [head, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {s.verify} | {'masked' if s.masked else 'present'} | {s.questions} | {s.em:.1f} | {s.f1:.1f} "
              f"| {100 * s.abstained:.0f} % | {s.unverified} | {s.changed} | {s.truncated} | {s.undecided} "
              f"| {s.rerun} |" for s in summaries]
    return "\n".join(lines) + "\n"


def format_refusals(replays: Sequence[tuple[str, list[ReplayRow]]]) -> str:
    """Why each replay accepted no draft where it ran its course (truncated and failed rows
    left out), as :func:`sleuth.evals.refusals.refusal_cells` counts it."""
    lines = ["| verify | evidence | " + " | ".join(REFUSAL_HEADER) + " |", "|---|---|---:|---:|---:|---:|---|"]
    for label, rows in replays:
        for evidence, part in by_evidence(rows, lambda row: row.masked):
            refusals = [Refusal(check=r.refused_by, right_refused=r.right_refused, sufficient=r.sufficient)
                        for r in part if r.refused_by is not None]
            lines.append(f"| {label} | {evidence} | " + " | ".join(refusal_cells(len(part), refusals)) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["RERUN_SHARES", "UNSTATED_MIN_P_YES", "PageLookup", "ReplayRow", "ReplaySummary", "Rerun", "VerificationPoint",
           "VerifyMode", "evidence_loop_config", "evidence_loop_manifest", "format_refusals", "format_summaries", "load_rerun",
           "read_rows", "replay_rows", "replay_run", "replayed_result", "rerun_examples", "rethreshold", "summarize",
           "verification_points", "write_replayed_run"]
