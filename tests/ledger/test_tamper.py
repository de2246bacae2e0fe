"""Tampering behind the application's back is found by `vgos ledger verify`; edited exports fail offline."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.ledger.helpers import (
    SEED_CLOSE,
    SEED_DIGEST,
    SEED_WINDOW,
    drop_append_only_triggers,
    raw,
    run_cli,
    seed_decisions,
)
from vgos import ledger
from vgos.canonical import digest
from vgos.errors import VerificationError


def _books(url: str) -> list[str]:
    """Four entries over three days: two authorizations, a batch, a settlement."""
    auth = ledger.post_authorization(
        SEED_WINDOW, SEED_DIGEST, "USD", seed_decisions(), effective_at=SEED_CLOSE, url=url
    )
    batch = ledger.post_batch(
        SEED_WINDOW,
        SEED_DIGEST,
        "PB-1",
        [{"principal_id": "CRE-0001", "amount_minor": 380}, {"principal_id": "CRE-0003", "amount_minor": 456}],
        provider="acme",
        currency="USD",
        effective_at="2025-09-24T08:00:00Z",
        url=url,
    )
    settle = ledger.post_settlement(
        SEED_WINDOW,
        SEED_DIGEST,
        [{"receipt_id": "R-1", "amount_minor": 836}],
        provider="acme",
        currency="USD",
        effective_at="2025-09-25T08:00:00Z",
        url=url,
    )
    return auth.posted + batch.posted + settle.posted


def test_changed_amount_is_found_and_the_entry_named(store_url: str) -> None:
    ids = _books(store_url)
    assert ledger.verify_chain(url=store_url)["entries"] == 4
    drop_append_only_triggers(store_url)
    # change both sides so the entry still balances: only the hash chain can tell
    raw(
        store_url,
        "UPDATE ledger_lines SET debit_minor = debit_minor * 10, credit_minor = credit_minor * 10 WHERE entry_id = :e",
        params={"e": ids[1]},
    )
    with pytest.raises(VerificationError) as info:
        ledger.verify_chain(url=store_url)
    assert info.value.reason == "LEDGER_HASH_MISMATCH"
    assert f"#2 {ids[1]}" in str(info.value)


def test_cli_verify_names_the_first_broken_entry_and_exits_1(sqlite_url: str) -> None:
    ids = _books(sqlite_url)
    code, out, _ = run_cli(["ledger", "verify"])
    assert code == 0 and "ledger OK: 4 entries" in out
    drop_append_only_triggers(sqlite_url)
    raw(
        sqlite_url,
        "UPDATE ledger_entries SET effective_at = '2025-09-22T00:00:00Z' WHERE entry_id = :e",
        params={"e": ids[2]},
    )
    raw(
        sqlite_url,
        "UPDATE ledger_lines SET account = 'asset:clearing:mallory' WHERE entry_id = :e",
        params={"e": ids[3]},
    )
    code, _, err = run_cli(["ledger", "verify"])
    assert code == 1
    assert "LEDGER_HASH_MISMATCH" in err and ids[2] in err and ids[3] not in err


def test_rewritten_chain_without_the_key_fails_on_signatures(sqlite_url: str) -> None:
    """An attacker who recomputes every hash after an edit still cannot produce the head signature."""
    ids = _books(sqlite_url)
    drop_append_only_triggers(sqlite_url)
    raw(
        sqlite_url,
        "UPDATE ledger_lines SET credit_minor = 1, debit_minor = 0 WHERE entry_id = :e AND line_no = 2",
        params={"e": ids[0]},
    )
    raw(sqlite_url, "UPDATE ledger_lines SET debit_minor = 1 WHERE entry_id = :e AND line_no = 1", params={"e": ids[0]})
    prev = "0" * 64
    for seq, eid in enumerate(ids, start=1):
        entry = ledger.get_entry(eid)
        body = {
            k: entry[k]
            for k in (
                "entry_id",
                "window_id",
                "output_digest",
                "entry_type",
                "reverses",
                "effective_at",
                "source",
                "source_event_id",
                "memo",
                "lines",
            )
        }
        new = digest({**body, "schema": ledger.ENTRY_SCHEMA, "seq": seq, "prev_hash": prev})
        raw(
            sqlite_url,
            "UPDATE ledger_entries SET prev_hash = :p, hash = :h WHERE entry_id = :e",
            params={"p": prev, "h": new, "e": eid},
        )
        prev = new
    raw(sqlite_url, "UPDATE ledger_chain_head SET hash = :h", params={"h": prev})
    with pytest.raises(VerificationError) as info:
        ledger.verify_chain()
    assert info.value.reason == "LEDGER_SIGNATURE_INVALID"


def test_removed_last_entry_is_found(store_url: str) -> None:
    ids = _books(store_url)
    drop_append_only_triggers(store_url)
    raw(
        store_url,
        "DELETE FROM ledger_lines WHERE entry_id = :e",
        "DELETE FROM ledger_entries WHERE entry_id = :e",
        params={"e": ids[-1]},
    )
    with pytest.raises(VerificationError) as info:
        ledger.verify_chain(url=store_url)
    assert info.value.reason == "LEDGER_HEAD_MISMATCH"


def test_removed_middle_entry_is_found_and_named(sqlite_url: str) -> None:
    ids = _books(sqlite_url)
    drop_append_only_triggers(sqlite_url)
    raw(
        sqlite_url,
        "DELETE FROM ledger_lines WHERE entry_id = :e",
        "DELETE FROM ledger_entries WHERE entry_id = :e",
        params={"e": ids[1]},
    )
    with pytest.raises(VerificationError) as info:
        ledger.verify_chain()
    assert info.value.reason == "LEDGER_SEQ_GAP" and ids[2] in str(info.value)


def _export(tmp_path: Path, frm: str = "2025-09-23", to: str = "2025-09-24") -> Path:
    out = tmp_path / "proof.json"
    code, stdout, err = run_cli(["ledger", "export", "--from", frm, "--to", to, "--out", str(out)])
    assert code == 0, err
    return out


def test_export_verifies_offline_and_covers_the_range(sqlite_url: str, tmp_path: Path) -> None:
    ids = _books(sqlite_url)
    out = _export(tmp_path)
    pkg = json.loads(out.read_text())
    assert [e["entry_id"] for e in pkg["entries"]] == ids[:3]  # 23rd and 24th; the 25th is outside
    assert pkg["range"]["entries_in_range"] == 3 and pkg["anchor"] == {"seq": 0, "hash": "0" * 64}
    code, stdout, _ = run_cli(["ledger", "verify", str(out)])
    assert code == 0 and "ledger proof OK: 3 entries" in stdout
    # a later range anchors on the preceding entry's hash, not genesis
    later = _export(tmp_path, "2025-09-25", "2025-09-25")
    assert json.loads(later.read_text())["anchor"]["seq"] == 3
    assert run_cli(["ledger", "verify", str(later)])[0] == 0


@pytest.mark.parametrize("rehash", [False, True])
def test_edited_export_fails_offline_verification(sqlite_url: str, tmp_path: Path, rehash: bool) -> None:
    ids = _books(sqlite_url)
    out = _export(tmp_path)
    pkg = json.loads(out.read_text())
    target = pkg["entries"][1]
    target["lines"][0]["debit_minor"] += 100
    target["lines"][1]["credit_minor"] += 100
    if rehash:  # recompute the edited entry's hash: the next link breaks instead
        target["hash"] = digest({k: v for k, v in target.items() if k != "hash"})
    out.write_text(json.dumps(pkg))
    code, _, err = run_cli(["ledger", "verify", str(out)])
    assert code == 1
    if rehash:
        assert "LEDGER_CHAIN_BROKEN" in err and ids[2] in err
    else:
        assert "LEDGER_HASH_MISMATCH" in err and ids[1] in err


def test_resigned_export_is_refused_pinned_or_not(sqlite_url: str, tmp_path: Path) -> None:
    from vgos.signing import load_signer

    _books(sqlite_url)
    out = _export(tmp_path)
    pkg = json.loads(out.read_text())
    mallory = ed25519.Ed25519PrivateKey.generate()
    pem = mallory.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    from vgos.signing import key_id_for_public_key

    head = pkg["head"]
    message = ledger.head_message(head["seq"], head["entry_id"], head["hash"])
    pkg["signature"] = {
        "algorithm": "ed25519",
        "key_id": key_id_for_public_key(pem),
        "public_key_pem": pem.decode(),
        "signature_b64": base64.b64encode(mallory.sign(message)).decode(),
    }
    out.write_text(json.dumps(pkg))
    code, _, err = run_cli(["ledger", "verify", str(out)])  # self-consistent, but by a key nobody trusts
    assert code == 1 and "LEDGER_UNTRUSTED_KEY" in err
    ours = tmp_path / "vgos.pub.pem"
    ours.write_bytes(load_signer().public_key_pem())
    code, _, err = run_cli(["ledger", "verify", str(out), "--public-key", str(ours)])
    assert code == 1 and "LEDGER_UNTRUSTED_KEY" in err


def test_export_of_an_empty_range_is_unusable_input(sqlite_url: str, tmp_path: Path) -> None:
    _books(sqlite_url)
    code, _, err = run_cli(
        ["ledger", "export", "--from", "2024-01-01", "--to", "2024-01-31", "--out", str(tmp_path / "p.json")]
    )
    assert code == 2 and "no ledger entries" in err and not (tmp_path / "p.json").exists()


@pytest.mark.parametrize("claim", ["as exported", "count lowered"])
def test_a_package_with_its_first_entries_dropped_is_incomplete(sqlite_url: str, tmp_path: Path, claim: str) -> None:
    _books(sqlite_url)
    out = _export(tmp_path)
    pkg = json.loads(out.read_text())
    dropped = pkg["entries"].pop(0)  # the links from a moved anchor still hash
    pkg["anchor"] = {"seq": dropped["seq"], "hash": dropped["hash"]}
    if claim == "count lowered":  # the range claim is signed: lowering it breaks the package signature
        pkg["range"]["entries_in_range"] -= 1
    out.write_text(json.dumps(pkg))
    code, _, err = run_cli(["ledger", "verify", str(out)])
    assert code == 1
    assert "LEDGER_SIGNATURE_INVALID" in err and "package signature" in err, err  # anchor and range are signed


def test_a_key_retired_before_the_entries_it_signed_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    _books(sqlite_url)  # signed by the local key, effective 2025-09-23..25
    from vgos_app.cli import main

    assert main(["keys", "rotate", "--not-after-old", "2025-09-01T00:00:00Z"]) == 0
    out = _export(tmp_path)
    code, _, err = run_cli(["ledger", "verify", str(out)])
    assert code == 1 and "LEDGER_KEY_NOT_VALID" in err and "head signature" in err, err
    code, _, err = run_cli(["ledger", "verify"])
    assert code == 1 and "LEDGER_KEY_NOT_VALID" in err, err
