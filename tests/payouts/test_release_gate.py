"""Money is released only on an ALLOW evaluated where it leaves, at the real clock: `--as-of` is a what-if."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from tests.payouts.conftest import WINDOW, ack, batch_id, ct, now, vgos


def _ts(t: dt.datetime) -> str:
    from vgos.acceptance import fmt_ts

    return fmt_ts(t)


def test_a_backdated_as_of_turns_a_stale_ack_into_allow_but_releases_nothing(sealed, tmp_path: Path) -> None:
    issued = now() - dt.timedelta(hours=2)  # the ACK is 2 h old: stale under F = 1800 s
    ack(sealed.output_digest, issued)
    for pid in ("CRE-0001", "CRE-0003"):
        ct(pid, "CLEAR", sealed.output_digest, issued=issued)
    what_if = vgos("authorize", WINDOW, "--as-of", _ts(issued + dt.timedelta(minutes=1)))
    assert what_if.returncode == 0 and "ALLOW" in what_if.stdout and "never payable" in what_if.stdout
    out = tmp_path / "b.csv"
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", out)
    assert r.returncode == 2 and "STALE_PROOF" in r.stderr and not out.exists()
    from vgos import payouts

    assert not [i for i in payouts.items(WINDOW) if i.state == "BATCHED"]
    # `batch create` takes no time from the caller at all
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", out, "--as-of", _ts(issued))
    assert r.returncode == 2 and "--as-of" in r.stderr and not out.exists()


def test_a_future_as_of_releases_nothing_and_future_proofs_are_refused(sealed, tmp_path: Path) -> None:
    from tests.payouts.conftest import proof
    from vgos.acceptance import demo_issuers, sign_proof

    demo_issuers()
    future = now() + dt.timedelta(days=2)
    f = tmp_path / "ack-future.json"
    import orjson

    f.write_bytes(orjson.dumps(sign_proof(proof("ACK", WINDOW, "ACCEPTED", sealed.output_digest, future,
                                                "finance-1"), demo_issuers()["finance-1"])))
    r = vgos("proof", "submit", f)
    assert r.returncode == 2 and "FUTURE_PROOF" in r.stderr
    for pid in ("CRE-0001", "CRE-0003"):
        ct(pid, "CLEAR", sealed.output_digest)
    what_if = vgos("authorize", WINDOW, "--as-of", _ts(future + dt.timedelta(minutes=1)))
    assert what_if.returncode == 0 and "ALLOW" not in what_if.stdout.split("\n", 1)[1]
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert r.returncode == 2 and "MISSING_ACK" in r.stderr and not (tmp_path / "b.csv").exists()


def test_a_ct_hold_that_arrives_after_authorize_keeps_the_payee_out(window, tmp_path: Path) -> None:
    auth = vgos("authorize", WINDOW)
    assert auth.returncode == 0 and auth.stdout.count("ALLOW") == 2
    hold_at = now()
    ct("CRE-0001", "HOLD", window.output_digest, issued=hold_at, reason="SANCTIONS")
    # a what-if ten seconds before the hold: the hold is already in force (a veto counts from its acceptance)
    before = vgos("authorize", WINDOW, "--as-of", _ts(hold_at - dt.timedelta(seconds=10)))
    assert re.search(r"CRE-0001\s+3\.80 USD\s+HOLD\s+CT_HOLD", before.stdout)
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert r.returncode == 0, r.stderr
    assert "1 payouts, total 4.56 USD" in r.stdout and "not paid: CRE-0001 CT_HOLD" in r.stdout
    content = (tmp_path / "b.csv").read_text()
    assert "CRE-0003" in content and "CRE-0001" not in content
    from sqlalchemy import select

    from vgos.store.acceptance import GateRun
    from vgos.store.db import session

    with session() as s:  # the release evaluated the gate itself and recorded when
        runs = s.scalars(select(GateRun).order_by(GateRun.id)).all()
    release = [r for r in runs if r.purpose == "release"]
    assert len(release) == 1 and f"gate run {release[0].id}" in r.stdout
    assert {r.purpose for r in runs} >= {"evaluate", "what-if", "release"}
    assert batch_id(r.stdout)


def test_a_hold_dated_slightly_ahead_is_in_force_at_release(window, tmp_path: Path) -> None:
    ct("CRE-0001", "HOLD", window.output_digest, issued=now() + dt.timedelta(seconds=200), reason="SANCTIONS")
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert r.returncode == 0 and "not paid: CRE-0001 CT_HOLD" in r.stdout and "total 4.56 USD" in r.stdout


def test_a_rejected_ack_vetoes_until_it_expires_not_only_while_fresh(window, tmp_path: Path) -> None:
    from tests.payouts.conftest import proof, submit

    old = now() - dt.timedelta(seconds=1900)  # older than F = 1800 s, expires in a day
    submit(proof("ACK", WINDOW, "REJECTED", window.output_digest, old, "finance-2"), "finance-2")
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert r.returncode == 2 and "ACK_REJECTED" in r.stderr and not (tmp_path / "b.csv").exists()


def test_quorum_counts_keys_even_where_the_hmac_secrets_are_not_set(vgos_home: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    """Two issuer names sharing one HMAC secret count once, also in a process that lacks the secrets."""
    import orjson

    from tests.payouts.conftest import proof
    from vgos.acceptance import HMAC, register_issuer, sign_proof, submit_proof
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos.transcript import publish_transcript
    from vgos_app.demo import seed_events_path

    pol = tmp_path / "policy.json"
    pol.write_bytes(orjson.dumps({"acceptance": {"ACK": {"quorum": 2}, "CT": {"required": False}}}))
    sealed = fold_files([seed_events_path()], WINDOW, load_policy(pol))
    publish_transcript(sealed)
    secret = b"s" * 40
    for name in ("ha", "hb"):
        register_issuer(name, algorithm=HMAC, kinds=("ACK",))
        monkeypatch.setenv(f"VGOS_ISSUER_SECRET_{name.upper()}", secret.decode())
        p = sign_proof(proof("ACK", WINDOW, "ACCEPTED", sealed.output_digest, now() - dt.timedelta(seconds=30),
                             name), secret)
        assert submit_proof(p).accepted
    for name in ("ha", "hb"):
        monkeypatch.delenv(f"VGOS_ISSUER_SECRET_{name.upper()}")
    r = vgos("batch", "create", WINDOW, "--rail", "csv", "--out", tmp_path / "b.csv")
    assert r.returncode == 2 and "INSUFFICIENT_QUORUM" in r.stderr and not (tmp_path / "b.csv").exists()
