"""The signed chain head is anchored write-once outside the database; `vgos ledger verify` checks the chain
against the newest anchor, so a removed tail, a wiped database or a replaced chain is found (issue #11)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.ledger.helpers import SEED_CLOSE, SEED_DIGEST, SEED_WINDOW, raw, run_cli, seed_decisions
from vgos import ledger
from vgos.errors import VerificationError
from vgos.store.ledger import GENESIS_HASH

VGOS = str(Path(sys.executable).parent / "vgos")
TAMPERED = ("ledger_entries", "ledger_lines", "ledger_head_signatures")


def _books(url: str | None = None) -> list[str]:
    """Four entries in three posting batches (heads #2, #3, #4)."""
    auth = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=url
    )
    items = [{"principal_id": "CRE-0001", "amount_minor": 380}, {"principal_id": "CRE-0003", "amount_minor": 456}]
    batch = ledger.post_batch(
        SEED_WINDOW, SEED_DIGEST, "PB-1", items, provider="acme", currency="USD",
        effective_at="2025-09-24T08:00:00Z", url=url,
    )
    settle = ledger.post_settlement(
        SEED_WINDOW, SEED_DIGEST, [{"receipt_id": "R-1", "amount_minor": 836}], provider="acme", currency="USD",
        effective_at="2025-09-25T08:00:00Z", url=url,
    )
    return auth.posted + batch.posted + settle.posted


def _anchors(home: Path) -> Path:
    return home / "artifacts" / "ledger" / "anchors"


def _drop_triggers(url: str) -> None:
    """What an owner or superuser with database access does first."""
    if url.startswith("sqlite"):
        raw(url, *(f"DROP TRIGGER {t}_no_{v}" for t in TAMPERED for v in ("update", "delete")))
    else:
        raw(url, *(f"DROP TRIGGER {t}_append_only ON {t}" for t in TAMPERED))


def _cut_back_to(url: str, seq: int) -> None:
    """Remove entries after #seq with their lines and head signatures and move the head back: a chain that is
    consistent in itself, every remaining head signature genuine."""
    _drop_triggers(url)
    if seq:
        eid, h = raw(url, "SELECT entry_id, hash FROM ledger_entries WHERE seq = :s", params={"s": seq})[0]
    else:
        eid, h = None, GENESIS_HASH
    raw(
        url,
        "DELETE FROM ledger_lines WHERE entry_id IN (SELECT entry_id FROM ledger_entries WHERE seq > :s)",
        "DELETE FROM ledger_entries WHERE seq > :s",
        "DELETE FROM ledger_head_signatures WHERE seq > :s",
        "UPDATE ledger_chain_head SET seq = :s, entry_id = :e, hash = :h WHERE id = 1",
        params={"s": seq, "e": eid, "h": h},
    )


def test_each_posting_batch_writes_a_write_once_anchor(store_url: str, vgos_home: Path) -> None:
    _books(store_url)
    folder = _anchors(vgos_home)
    assert sorted(p.name for p in folder.iterdir()) == [f"{n:020d}.json" for n in (2, 3, 4)]
    newest = folder / f"{4:020d}.json"
    assert stat.S_IMODE(newest.stat().st_mode) == 0o444
    doc = json.loads(newest.read_bytes())
    sig = raw(store_url, "SELECT entry_id, head_hash, key_id, signature_b64 FROM ledger_head_signatures WHERE seq = 4")
    assert doc["schema"] == ledger.ANCHOR_SCHEMA and doc["seq"] == 4
    assert (doc["entry_id"], doc["hash"], doc["key_id"], doc["signature_b64"]) == tuple(sig[0])
    # a replay posts nothing and writes nothing
    again = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=store_url
    )
    assert again.posted == [] and len(list(folder.iterdir())) == 3


def test_a_normal_ledger_verifies_and_names_the_trusted_key_and_the_anchor(sqlite_url: str) -> None:
    from vgos.signing import load_signer

    _books()
    code, out, err = run_cli(["ledger", "verify"])
    assert code == 0, err
    assert "ledger OK: 4 entries" in out
    assert f"signed by {load_signer().key_id} (ed25519, local signer" in out
    assert f"anchored at #4 {_anchors(Path(os.environ['VGOS_HOME']))}" in out


def test_truncated_tail_is_found_and_no_posting_extends_it(store_url: str) -> None:
    ids = _books(store_url)
    _cut_back_to(store_url, 3)
    with pytest.raises(VerificationError) as info:
        ledger.verify_chain(url=store_url)
    assert info.value.reason == "LEDGER_TRUNCATED"
    assert "anchor #4" in str(info.value) and "the database ends at #3" in str(info.value)
    # the application refuses to write on top of the cut chain (the posting would hide the cut)
    with pytest.raises(VerificationError, match="LEDGER_TRUNCATED"):
        ledger.post_fee(SEED_WINDOW, SEED_DIGEST, "USD", 25, "FEE-1", provider="acme",
                        effective_at="2025-09-25T08:00:00Z", url=store_url)
    assert raw(store_url, "SELECT COUNT(*) FROM ledger_entries")[0][0] == 3
    assert ids[3] not in {r[0] for r in raw(store_url, "SELECT entry_id FROM ledger_entries")}


def test_truncated_tail_cli_exits_1(sqlite_url: str) -> None:
    _books()
    assert run_cli(["ledger", "verify"])[0] == 0
    _cut_back_to(sqlite_url, 2)
    code, out, err = run_cli(["ledger", "verify"])
    assert code == 1 and out == ""
    assert "LEDGER_TRUNCATED" in err and "anchor #4" in err and "ends at #2" in err


@pytest.mark.parametrize("how", ["sql", "database file removed"])
def test_full_wipe_fails_with_the_installed_command(sqlite_url: str, vgos_home: Path, how: str) -> None:
    _books()
    from vgos.store.db import get_engine

    get_engine(sqlite_url).dispose()
    if how == "sql":
        _cut_back_to(sqlite_url, 0)
    else:
        for p in vgos_home.glob("vgos.db*"):
            p.unlink()
    proc = subprocess.run([VGOS, "ledger", "verify"], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ledger OK" not in proc.stdout
    assert "LEDGER_TRUNCATED" in proc.stderr and "the database ends at #0" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_chain_replaced_after_a_cut_is_rewritten(sqlite_url: str, vgos_home: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the tail, then let an application instance that does not see the anchors (another artifact root) post
    a different entry #4 with the real key: the chain is consistent and signed, but not the anchored one."""
    _books()
    _cut_back_to(sqlite_url, 3)
    monkeypatch.setenv("VGOS_ARTIFACTS", str(tmp_path / "elsewhere"))
    forged = ledger.post_fee(SEED_WINDOW, SEED_DIGEST, "USD", 999_00, "FEE-X", provider="acme",
                             effective_at="2025-09-25T08:00:00Z")
    assert forged.head_seq == 4
    monkeypatch.delenv("VGOS_ARTIFACTS")
    with pytest.raises(VerificationError) as info:
        ledger.verify_chain()
    assert info.value.reason == "LEDGER_REWRITTEN" and "anchor #4" in str(info.value)
    assert forged.posted[0] in str(info.value)
    code, _, err = run_cli(["ledger", "verify"])
    assert code == 1 and "LEDGER_REWRITTEN" in err


def _mallory_anchor(home: Path, seq: int, *, by_us_with_bad_signature: bool = False) -> None:
    from vgos.signing import load_signer
    from vgos.storage import open_store

    mallory = ed25519.Ed25519PrivateKey.generate()
    pem = mallory.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    from vgos.signing import key_id_for_public_key

    message = ledger.head_message(seq, "je_forged", "f" * 64)
    key_id = load_signer().key_id if by_us_with_bad_signature else key_id_for_public_key(pem)
    head = ledger.SignedHead(seq, "je_forged", "f" * 64, "ed25519", key_id,
                             base64.b64encode(mallory.sign(message)).decode())
    ledger.write_anchor(open_store(str(home / "artifacts")), head)


@pytest.mark.parametrize("bad", ["untrusted key", "bad signature"])
def test_a_forged_anchor_is_refused(sqlite_url: str, vgos_home: Path, bad: str) -> None:
    _books()
    _mallory_anchor(vgos_home, 99, by_us_with_bad_signature=bad == "bad signature")
    reason = "LEDGER_UNTRUSTED_KEY" if bad == "untrusted key" else "LEDGER_ANCHOR_INVALID"
    code, _, err = run_cli(["ledger", "verify"])
    assert code == 1 and reason in err and "anchor #99" in err
    with pytest.raises(VerificationError) as info:  # and nothing is posted while it is there
        ledger.post_fee(SEED_WINDOW, SEED_DIGEST, "USD", 25, "FEE-1", provider="acme",
                        effective_at="2025-09-25T08:00:00Z")
    assert info.value.reason == reason


def test_chain_signed_by_a_key_that_is_not_trusted_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    _books()
    other = tmp_path / "other.pem"
    other.write_bytes(ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    code, _, err = run_cli(["ledger", "verify", "--pubkey", str(other)])
    assert code == 1 and "LEDGER_UNTRUSTED_KEY" in err and "head signature at #2" in err


def _begin(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _fee_draft(fee_id: str) -> ledger.Draft:
    return ledger.Draft(
        window_id=SEED_WINDOW, output_digest=SEED_DIGEST, entry_type="FEE", effective_at="2025-09-25T08:00:00Z",
        source="fee", source_event_id=f"acme/{fee_id}",
        lines=(ledger.dr(ledger.EXPENSE_FEES, "USD", 25), ledger.cr(ledger.BANK, "USD", 25)),
    )


def test_caller_transaction_is_anchored_only_after_commit(store_url: str, vgos_home: Path) -> None:
    from vgos.store.db import get_engine

    _books(store_url)
    folder = _anchors(vgos_home)
    with get_engine(store_url).connect() as conn:
        _begin(conn)
        res = ledger.append([_fee_draft("F-1")], action="t", resource="t", conn=conn)
        assert res.head_seq == 5 and res.anchor_url is None
        assert not (folder / f"{5:020d}.json").exists()  # not before the commit
        conn.rollback()
    assert ledger.anchor_pending(url=store_url)["written"] is False  # rolled back: nothing to anchor
    assert ledger.verify_chain(url=store_url)["anchor_seq"] == 4
    with get_engine(store_url).connect() as conn:
        _begin(conn)
        ledger.append([_fee_draft("F-2")], action="t", resource="t", conn=conn)
        conn.commit()
    rep = ledger.anchor_pending(url=store_url)
    assert rep["written"] is True and rep["anchor_seq"] == 5 and (folder / f"{5:020d}.json").exists()
    assert ledger.anchor_pending(url=store_url)["written"] is False  # idempotent


def test_verify_and_the_next_append_catch_up_a_head_left_unanchored(sqlite_url: str, vgos_home: Path) -> None:
    from vgos.store.db import get_engine

    _books()
    folder = _anchors(vgos_home)
    with get_engine(sqlite_url).connect() as conn:
        _begin(conn)
        ledger.append([_fee_draft("F-1")], action="t", resource="t", conn=conn)
        conn.commit()
    code, out, _ = run_cli(["ledger", "verify"])
    assert code == 0 and "anchored at #5" in out and "(written now)" in out
    with get_engine(sqlite_url).connect() as conn:
        _begin(conn)
        ledger.append([_fee_draft("F-2")], action="t", resource="t", conn=conn)
        conn.commit()
    again = ledger.append([_fee_draft("F-2")], action="t", resource="t")  # a replay: posts nothing, anchors #6
    assert again.posted == [] and again.head_seq == 6 and (folder / f"{6:020d}.json").exists()


def test_anchors_survive_a_key_rotation(sqlite_url: str, vgos_home: Path) -> None:
    from vgos.trust import rotate_signing_key

    _books()
    rotate_signing_key("2025-10-01T00:00:00Z")
    ledger.post_fee(SEED_WINDOW, SEED_DIGEST, "USD", 25, "FEE-1", provider="acme",
                    effective_at="2025-10-02T08:00:00Z")
    rep = ledger.verify_chain()
    assert rep["entries"] == 5 and rep["anchor_seq"] == 5 and len(rep["key_ids"]) == 2
    _cut_back_to(sqlite_url, 4)
    with pytest.raises(VerificationError, match="LEDGER_TRUNCATED"):
        ledger.verify_chain()


def test_anchors_on_s3_with_object_lock(sqlite_url: str, moto_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket="vgos-artifacts", ObjectLockEnabledForBucket=True)
    monkeypatch.setenv("VGOS_ARTIFACTS", "s3://vgos-artifacts/prod")
    monkeypatch.setenv("VGOS_S3_OBJECT_LOCK_DAYS", "1")
    _books()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="vgos-artifacts")["Contents"]]
    assert keys == [f"prod/ledger/anchors/{n:020d}.json" for n in (2, 3, 4)]
    head = s3.head_object(Bucket="vgos-artifacts", Key=keys[-1])
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert ledger.verify_chain()["anchor_url"] == f"s3://vgos-artifacts/{keys[-1]}"
    _cut_back_to(sqlite_url, 2)
    with pytest.raises(VerificationError, match="LEDGER_TRUNCATED: anchor #4"):
        ledger.verify_chain()


def test_verify_while_others_post_never_reports_a_truncation(store_url: str) -> None:
    """Anchors are listed before the chain is read (and written only after their commit), so a posting that
    lands while `verify_chain` runs is never mistaken for a removed tail."""
    import threading

    _books(store_url)
    stop, errors, reports = threading.Event(), [], []

    def post(n: int) -> None:
        try:
            for i in range(8):
                ledger.append([_fee_draft(f"T{n}-{i}")], action="t", resource="t", url=store_url)
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    def verify() -> None:
        while not stop.is_set():
            try:
                reports.append(ledger.verify_chain(url=store_url, catch_up=False))
            except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
                errors.append(exc)
                return

    checker = threading.Thread(target=verify)
    checker.start()
    posters = [threading.Thread(target=post, args=(n,)) for n in range(3)]
    for t in posters:
        t.start()
    for t in posters:
        t.join(timeout=120)
    stop.set()
    checker.join(timeout=120)
    assert errors == [] and reports
    assert ledger.verify_chain(url=store_url)["entries"] == 4 + 24
