"""Proof intake: malformed or unsigned proofs are refused with a reason, quarantined and never applied."""

from __future__ import annotations

import base64

import orjson
import pytest

from tests.acceptance.helpers import SEED_WINDOW, T0
from vgos.acceptance import load_proofs, quarantine_list, sign_proof, submit_proof
from vgos.gate import authorize


def _refused(db_url, proof, reason):
    res = submit_proof(proof, db_url=db_url, as_of=T0)
    assert not res.accepted and res.reason == reason, res
    return res


def test_bad_proofs_are_quarantined_and_never_applied(published, proofs, db_url, tmp_path):
    good_ack = proofs.ack()
    unsigned = {k: v for k, v in good_ack.items() if k != "signature"}
    tampered = {**good_ack, "issued_at": "2025-09-23T21:59:00Z"}
    unknown = sign_proof({**unsigned, "issuer": "mallory"}, proofs.keys["finance-1"])
    wrong_key = sign_proof(unsigned, proofs.keys["compliance"])
    wrong_kind = sign_proof({**unsigned, "issuer": "compliance"}, proofs.keys["compliance"])
    bad_status = sign_proof({**unsigned, "status": "MAYBE"}, proofs.keys["finance-1"])
    naive_time = sign_proof({**unsigned, "issued_at": "2025-09-23T21:55:00"}, proofs.keys["finance-1"])
    float_field = {**good_ack, "amount": 1.5}
    hold_without_reason = sign_proof({**proofs.ct("CRE-0001"), "status": "HOLD"}, proofs.keys["compliance"])
    broken = tmp_path / "broken.json"
    broken.write_bytes(b'{"kind": "ACK", ')
    cases = [
        (unsigned, "UNSIGNED_PROOF"), (tampered, "BAD_SIGNATURE"), (unknown, "UNKNOWN_ISSUER"),
        (wrong_key, "BAD_SIGNATURE"), (wrong_kind, "ISSUER_NOT_ALLOWED"), (bad_status, "MALFORMED_PROOF"),
        (naive_time, "MALFORMED_PROOF"), (float_field, "MALFORMED_PROOF"), (hold_without_reason, "MALFORMED_PROOF"),
        (broken, "MALFORMED_PROOF"), ({**good_ack, "signature": "***"}, "MALFORMED_PROOF"),
    ]
    for proof, reason in cases:
        _refused(db_url, proof, reason)
    q = quarantine_list(db_url)
    assert [x["reason_code"] for x in q] == [r for _, r in cases]
    assert q[-2]["source"] == str(broken)
    assert "naive" not in q[6]["message"] and "time zone" in q[6]["message"]
    assert load_proofs(SEED_WINDOW, db_url=db_url) == []
    # none of them was applied: the window still has no ACK
    _ = [submit_proof(p, db_url=db_url, as_of=T0) for p in (proofs.ct("CRE-0001"),)]
    assert {d["reason_code"] for d in authorize(SEED_WINDOW, as_of=T0, db_url=db_url).decisions} == {
        "MISSING_ACK"}


def test_resubmitting_the_same_proof_is_idempotent(published, proofs, db_url):
    p = proofs.ack()
    a = submit_proof(p, db_url=db_url, as_of=T0)
    b = submit_proof(p, db_url=db_url, as_of=T0)
    assert a.accepted and b.accepted and b.duplicate and a.proof_sha256 == b.proof_sha256
    assert len(load_proofs(SEED_WINDOW, db_url=db_url)) == 1


def test_hmac_issuer_secret_only_from_environment(published, proofs, db_url, vgos_home, monkeypatch):
    from vgos.acceptance import hmac_secret_env, register_issuer
    from vgos.errors import InputError

    register_issuer("erp-bot", algorithm="hmac-sha256", kinds=("ACK",))
    assert hmac_secret_env("erp-bot") == "VGOS_ISSUER_SECRET_ERP_BOT"
    body = {k: v for k, v in proofs.ack().items() if k != "signature"}
    secret = "s3cret-" + "x" * 25  # 32 bytes: shorter HMAC secrets are refused (WEAK_SECRET)
    proof = sign_proof({**body, "issuer": "erp-bot"}, secret.encode())
    _refused(db_url, proof, "UNKNOWN_ISSUER")  # no secret in the environment
    monkeypatch.setenv("VGOS_ISSUER_SECRET_ERP_BOT", "other-" + "y" * 26)
    _refused(db_url, proof, "BAD_SIGNATURE")
    monkeypatch.setenv("VGOS_ISSUER_SECRET_ERP_BOT", secret)
    assert submit_proof(proof, db_url=db_url, as_of=T0).accepted
    reg = orjson.loads((vgos_home / "issuers.json").read_bytes())
    reg["issuers"]["erp-bot"]["secret"] = secret
    (vgos_home / "issuers.json").write_bytes(orjson.dumps(reg))
    with pytest.raises(InputError, match="only from the environment"):
        submit_proof(proof, db_url=db_url, as_of=T0)


def test_drop_zone_ingest(published, proofs, db_url, vgos_home, monkeypatch):
    from vgos.acceptance import ingest_proof_drops

    zone = vgos_home / "drop" / "proofs"
    zone.mkdir(parents=True)
    (zone / "ack.json").write_bytes(orjson.dumps(proofs.ack()))
    (zone / "ct1.json").write_bytes(orjson.dumps(proofs.ct("CRE-0001")))
    (zone / "junk.json").write_bytes(b"not json")
    (zone / "readme.txt").write_bytes(b"ignored")
    results = ingest_proof_drops(db_url=db_url, as_of=T0)
    assert [(r.source.rsplit("/", 1)[-1], r.accepted, r.reason) for r in results] == [
        ("ack.json", True, None), ("ct1.json", True, None), ("junk.json", False, "MALFORMED_PROOF")]
    again = ingest_proof_drops(db_url=db_url, as_of=T0)
    assert [r.duplicate for r in again if r.accepted] == [True, True]
    assert len(load_proofs(SEED_WINDOW, db_url=db_url)) == 2


def test_cli_proof_submit(published, proofs, db_url, tmp_path, capsys):
    from vgos_app.cli import main

    good = tmp_path / "ack.json"
    good.write_bytes(orjson.dumps(proofs.ack()))
    bad = tmp_path / "bad.json"
    sig = base64.b64encode(b"x" * 64).decode()
    bad.write_bytes(orjson.dumps({**proofs.ack(), "signature": sig}))
    assert main(["proof", "submit", str(good)]) == 0
    assert capsys.readouterr().out.startswith("ACCEPTED")
    assert main(["proof", "submit", str(bad)]) == 2
    assert "QUARANTINED BAD_SIGNATURE" in capsys.readouterr().err
    assert main(["proof", "quarantine"]) == 0
    assert "BAD_SIGNATURE" in capsys.readouterr().out
    assert main(["proof", "submit", str(tmp_path / "missing.json")]) == 2
