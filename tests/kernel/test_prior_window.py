"""SPEC §3 step 2 in the kernel: the prior-window matches are an explicit input (`prior`), never a store read."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.examples import examples
from tests.kernel.strategies import EVENT_IDS, WINDOW, window_records
from tests.kernel.writers import write, write_jsonl
from vgos.events import DUPLICATE_PRIOR_WINDOW, REASONS
from vgos.fold import FoldResult, fold_canonical, fold_files, fold_reference
from vgos.policy import load_policy
from vgos_app.demo import seed_events_path

POLICY = load_policy()
ZERO = "0" * 64
SPEC_DIGEST = "90833464347fd19e2779e0929d7e57b81d4e951f1d96e84eab947d8c4bf97a73"
SETTINGS = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
FOLDS = pytest.mark.parametrize("fold", [fold_files, fold_reference], ids=["fast", "reference"])


def _ev(event_id: str, ts: str, amount: int = 100, principal: str = "CRE-0001", **extra) -> dict:
    return {"event_id": event_id, "ts_occurred": ts, "principal_id": principal, "amount_minor": amount,
            "source_type": "earning", **extra}


def _rows(r: FoldResult) -> list[tuple]:
    """Rejects by id, reason, file:line, field and detail (schema details are worded per reader, so left out)."""
    return [(x.event_id, x.reason, Path(x.source.rsplit(":", 1)[0]).name + ":" + x.source.rsplit(":", 1)[1],
             x.field, None if x.reason == "SCHEMA_INVALID" else x.detail) for x in r.rejects]


def test_reason_code_sits_between_schema_and_duplicates() -> None:
    assert REASONS[:3] == ("SCHEMA_INVALID", DUPLICATE_PRIOR_WINDOW, "DUPLICATE_EVENT")


@FOLDS
def test_every_copy_of_a_matched_id_is_rejected_naming_the_window(fold, tmp_path: Path) -> None:
    records = [
        _ev("e1", "2025-09-23T11:00:00Z"),
        _ev("e1", "2025-09-23T11:00:00Z"),                      # identical copy: would be DUPLICATE_EVENT
        _ev("x", "2025-09-23T12:00:00Z"),
        _ev("x", "2025-09-23T12:00:00Z", amount=7),              # conflicting copy: would be EVENT_ID_CONFLICT
        _ev("late", "2025-09-24T00:05:00Z"),                     # after the cutoff: would be AFTER_CUTOFF
        _ev("eur", "2025-09-23T12:00:00Z", currency="EUR"),      # would be CURRENCY_MISMATCH
        _ev("e1", "2025-09-23 11:00:00"),                        # schema first: stays SCHEMA_INVALID
        _ev("keep", "2025-09-23T13:00:00Z", amount=250),
    ]
    path = write_jsonl(tmp_path / "events.jsonl", records)
    prior = {"e1": "2025-09-22", "x": "2025-09-20", "late": "2025-09-22", "eur": "2025-09-21",
             "absent": "2025-09-19"}
    r = fold([path], WINDOW, POLICY, prior=prior)
    assert _rows(r) == [
        ("e1", DUPLICATE_PRIOR_WINDOW, "events.jsonl:1", None, "kept in window 2025-09-22"),
        ("e1", DUPLICATE_PRIOR_WINDOW, "events.jsonl:2", None, "kept in window 2025-09-22"),
        ("x", DUPLICATE_PRIOR_WINDOW, "events.jsonl:3", None, "kept in window 2025-09-20"),
        ("x", DUPLICATE_PRIOR_WINDOW, "events.jsonl:4", None, "kept in window 2025-09-20"),
        ("late", DUPLICATE_PRIOR_WINDOW, "events.jsonl:5", None, "kept in window 2025-09-22"),
        ("eur", DUPLICATE_PRIOR_WINDOW, "events.jsonl:6", None, "kept in window 2025-09-21"),
        ("e1", "SCHEMA_INVALID", "events.jsonl:7", "ts_occurred", None),
    ]
    assert r.kept["event_id"].to_list() == ["keep"]
    assert r.totals["events_rejected"] == 7 and r.totals["events_kept"] == 1
    # only the matches that hit a record are recorded, sorted by event_id
    assert list(r.prior.items()) == [("e1", "2025-09-22"), ("eur", "2025-09-21"), ("late", "2025-09-22"),
                                     ("x", "2025-09-20")]


def test_fast_equals_reference_with_prior(tmp_path: Path) -> None:
    path = seed_events_path()
    prior = {"e2": "2025-09-22", "e3": "2025-09-21"}
    fast = fold_files([path], WINDOW, POLICY, prior=prior)
    ref = fold_reference([path], WINDOW, POLICY, prior=prior)
    assert fast.seal_bytes == ref.seal_bytes and fast.output_digest == ref.output_digest
    assert fast.rejects == ref.rejects and fast.prior == ref.prior == prior
    assert fast.kept.equals(ref.kept)
    assert [(x.event_id, x.reason) for x in fast.rejects] == [
        ("e2", DUPLICATE_PRIOR_WINDOW), ("e2", DUPLICATE_PRIOR_WINDOW), ("e3", DUPLICATE_PRIOR_WINDOW),
        ("e4", "AFTER_CUTOFF")]
    assert fast.totals["events_rejected"] == 4
    assert fast.output_digest != fold_files([path], WINDOW, POLICY).output_digest


@FOLDS
@pytest.mark.parametrize("prior", [None, {}, {"nope": "2025-09-22"}, lambda ids: {}],
                         ids=["none", "empty", "no-hit", "lookup-without-hit"])
def test_no_match_leaves_the_spec_digest_unchanged(fold, prior) -> None:
    r = fold([seed_events_path()], WINDOW, POLICY, policy_hash=ZERO, prior=prior)
    assert r.output_digest == SPEC_DIGEST
    assert r.prior == {}


@FOLDS
def test_a_lookup_is_called_once_with_the_schema_valid_ids(fold) -> None:
    seen: list[list[str]] = []

    def lookup(ids: pl.Series) -> dict[str, str]:
        seen.append(sorted(set(ids.to_list())))
        return {"e1": "2025-09-22", "unrelated": "2025-09-01"}

    r = fold([seed_events_path()], WINDOW, POLICY, prior=lookup)
    assert seen == [["e1", "e2", "e3", "e4"]]
    assert r.prior == {"e1": "2025-09-22"}
    assert r.output_digest == fold([seed_events_path()], WINDOW, POLICY, prior={"e1": "2025-09-22"}).output_digest


@FOLDS
def test_a_match_naming_the_window_itself_is_refused(fold) -> None:
    from vgos.errors import InputError

    with pytest.raises(InputError, match="names window 2025-09-23 itself"):
        fold([seed_events_path()], WINDOW, POLICY, prior={"e1": WINDOW})


def test_fold_canonical_reapplies_the_recorded_matches() -> None:
    r = fold_files([seed_events_path()], WINDOW, POLICY, prior={"e1": "2025-09-22"})
    replay = fold_canonical(r.kept, WINDOW, POLICY, "default", len(r.rejects), prior=r.prior)
    assert replay.output_digest == r.output_digest
    # a kept event that the recorded matches name would be rejected again: the replay no longer reproduces
    honest = fold_files([seed_events_path()], WINDOW, POLICY)
    forged = fold_canonical(honest.kept, WINDOW, POLICY, "default", len(honest.rejects), prior={"e3": "2025-09-22"})
    assert forged.output_digest != honest.output_digest
    assert [x.reason for x in forged.rejects] == [DUPLICATE_PRIOR_WINDOW]


# ---------------------------------------------------------------------------------------------- properties


def _fold_split(records: list[dict], parts: list[tuple[int, str]], prior: dict[str, str], fold=fold_files
                ) -> FoldResult:
    with tempfile.TemporaryDirectory() as d:
        paths, start = [], 0
        cuts = sorted({min(c, len(records)) for c, _ in parts}) + [len(records)]
        fmts = [f for _, f in parts] + ["jsonl"]
        for i, cut in enumerate(cuts):
            paths.append(write(Path(d) / f"part{i}", fmts[i % len(fmts)], records[start:cut]))
            start = cut
        return fold(paths, WINDOW, POLICY, prior=prior)


priors = st.dictionaries(st.sampled_from(EVENT_IDS), st.sampled_from(["2025-09-20", "2025-09-22"]), max_size=5)
splits = st.lists(st.tuples(st.integers(0, 60), st.sampled_from(["jsonl", "csv", "parquet"])), max_size=4)


@SETTINGS
@given(window_records(), priors, splits, st.randoms(use_true_random=False))
def test_prior_is_order_and_split_independent_and_fast_equals_reference(records, prior, parts, rnd: random.Random
                                                                         ) -> None:
    shuffled = list(records)
    rnd.shuffle(shuffled)
    whole = _fold_split(records, [], prior)
    split_fast = _fold_split(shuffled, parts, prior)
    split_ref = _fold_split(shuffled, parts, prior, fold=fold_reference)
    assert split_fast.output_digest == whole.output_digest
    assert split_fast.prior == whole.prior == split_ref.prior
    assert split_fast.seal_bytes == split_ref.seal_bytes
    assert _rows(split_fast) == _rows(split_ref)
    assert split_fast.kept.equals(split_ref.kept)
    def key(r: tuple) -> tuple:
        return (r[0] or "", r[1], r[4] or "")

    assert sorted(map(key, _rows(whole))) == sorted(map(key, _rows(split_fast)))
    t = whole.totals
    assert t["events_kept"] + t["events_rejected"] == len(records)
    # no kept event carries a matched id; every schema-valid copy of a matched id is rejected at step 2
    assert not set(whole.kept["event_id"].to_list()) & set(prior)
    assert set(whole.prior) <= set(prior)
    assert all(whole.prior[x.event_id] == prior[x.event_id] and x.detail == f"kept in window {prior[x.event_id]}"
               for x in whole.rejects if x.reason == DUPLICATE_PRIOR_WINDOW)
    assert {x.event_id for x in whole.rejects if x.reason == DUPLICATE_PRIOR_WINDOW} == set(whole.prior)
    assert not [x for x in whole.rejects if x.event_id in prior and x.reason not in
                (DUPLICATE_PRIOR_WINDOW, "SCHEMA_INVALID")]
    # without the matched ids the window folds as if those records were never sent
    rest = [r for r in records if r.get("event_id") not in whole.prior]
    plain = _fold_split(rest, [], {})
    assert plain.seal["allocations"] == whole.seal["allocations"]
    assert plain.input_digest == whole.input_digest
