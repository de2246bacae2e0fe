"""Store: migration 0002, once-per-file ingestion, idempotent recon runs, SPV proofs; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from connectors.psp.camt054 import camt054_for_batch
from recon import persist, service
from recon.spv import sign_spv_proofs, spv_proofs
from tests.conftest import FIXTURES
from tests.recon.demo import WINDOW, debtor
from vgos.errors import InputError

AS_OF = dt.datetime.now(dt.UTC).replace(microsecond=0)  # evidence is judged at the real clock


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, vgos_home):
    if request.param == "sqlite":
        return f"sqlite:///{vgos_home / 'recon.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def authorized(db_url, vgos_home) -> str:
    """The seed window sealed, with a fresh ACK and the seed CT table, authorized on this store; its digest."""
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli_acceptance import demo_acceptance
    from vgos_app.demo import seed_events_path

    result = fold_files([seed_events_path()], WINDOW, load_policy())
    demo_acceptance(WINDOW, result, as_of=AS_OF, db_url=db_url)
    return result.output_digest


def test_migration_chain_creates_recon_tables(db_url):
    from vgos.store.db import get_engine

    insp = sa.inspect(get_engine(db_url))
    assert {"payout_batches", "payout_batch_items", "recon_report_files", "recon_receipt_segments",
            "recon_receipt_keys", "recon_runs", "recon_match_segments", "recon_discrepancies"} <= set(
        insp.get_table_names())
    with get_engine(db_url).connect() as c:
        assert c.execute(sa.text("select version_num from alembic_version")).scalar() >= "0002"


def _recon(db_url: str):
    return service.run_window_recon(service.load_window(WINDOW, db_url=db_url), as_of=AS_OF, db_url=db_url)


def test_full_flow_batch_report_recon_spv(db_url, authorized, tmp_path, vgos_home):
    from vgos.acceptance import demo_issuers, load_issuers, validate_proof

    DIGEST = authorized
    batch = service.create_window_batch(WINDOW, "pain001", tmp_path / "b.xml", db_url=db_url).batch
    assert (tmp_path / "b.xml").read_bytes() == batch.content
    stored = persist.load_batches(WINDOW, DIGEST, db_url=db_url)
    assert [b["provider_batch_id"] for b in stored] == [batch.provider_batch_id]
    assert stored[0]["ctrl_sum_minor"] == 836 and len(stored[0]["items"]) == 2

    data = camt054_for_batch(batch, debtor_iban=debtor()["iban"], booked_on="2025-09-24",
                             created_at="2025-09-24T08:00:00Z")
    first = service.ingest_report(data, "n1.xml", db_url=db_url, now=AS_OF)
    again = service.ingest_report(data, "copy-of-n1.xml", db_url=db_url, now=AS_OF)
    assert (first.status, first.n_receipts, again.status) == ("PROCESSED", 3, "ALREADY_SEEN")
    noise = (FIXTURES / "iso20022" / "genkgo-camt__camt054.v8.xml").read_bytes()
    # a public sample whose own batch totals disagree with its lines: imported, flagged (never lost)
    assert service.ingest_report(noise, "other.xml", db_url=db_url, now=AS_OF).status in ("PROCESSED", "FLAGGED")

    result, run_id, changed = _recon(db_url)
    assert result.fully_reconciled and changed and result.n_receipts == 3  # unrelated receipts not selected
    _, run_id2, changed2 = _recon(db_url)
    assert (run_id2, changed2) == (run_id, False)
    stored_run = persist.load_result(WINDOW, DIGEST, db_url=db_url)
    assert stored_run["fully_reconciled"] and len(stored_run["matches"]) == 2 and stored_run["revision"] == 1

    keys = demo_issuers(vgos_home)
    proofs = sign_spv_proofs(spv_proofs(result, issued_at=AS_OF), keys["recon"])
    (p,) = proofs
    assert (p["kind"], p["subject_id"], p["status"], p["output_digest"]) == (
        "SPV", batch.provider_batch_id, "CONFIRMED", DIGEST)
    assert validate_proof(p, load_issuers(vgos_home / "issuers.json")) == p

    # a later report with an extra line changes the result: the run is replaced, not duplicated
    extra = camt054_for_batch(batch, debtor_iban=debtor()["iban"], booked_on="2025-09-25",
                              created_at="2025-09-25T08:00:00Z", omit=[i.end_to_end_id for i in batch.items],
                              extra=[{"end_to_end_id": "VG20250923-zzzz", "amount_minor": 99}])
    service.ingest_report(extra, "n2.xml", db_url=db_url, now=AS_OF)
    result3, run_id3, changed3 = _recon(db_url)
    assert changed3 and run_id3 == run_id and result3.by_type()["EXTERNAL_ONLY"] == 1 and not result3.fully_reconciled
    assert persist.load_result(WINDOW, DIGEST, db_url=db_url)["revision"] == 2
    assert spv_proofs(result3, issued_at=AS_OF)[0]["status"] == "MISMATCH"


def test_quarantine_is_persisted_once_with_reason_and_line(db_url):
    bad = b"<Document><BkToCstmrDbtCdtNtfctn>\n<Ntfctn><Ntry></Ntfctn>"
    out = service.ingest_report(bad, "bad.xml", "camt054", db_url=db_url, now=AS_OF)
    assert out.status == "QUARANTINED" and out.quarantine.reason_code == "REPORT_MALFORMED"
    # the same bytes are read again (a quarantined file may be re-ingested), still one record
    assert service.ingest_report(bad, "bad.xml", "camt054", db_url=db_url, now=AS_OF).status == "QUARANTINED"
    (q,) = persist.quarantined_files(db_url=db_url)
    assert q["reason_code"] == "REPORT_MALFORMED" and q["line"] == 2
    unknown = service.ingest_report(b"hello,world\n1,2\n", "x.csv", db_url=db_url, now=AS_OF)
    assert unknown.quarantine.reason_code == "FORMAT_UNSUPPORTED"


def test_a_recorded_batch_is_never_released_or_rewritten_again(db_url, authorized, tmp_path):
    batch = service.create_window_batch(WINDOW, "csv", tmp_path / "b.csv", db_url=db_url).batch
    other = {**debtor(), "name": "Someone Else"}
    from connectors.psp.payees import demo_payees, parse_payees

    payees = demo_payees()
    changed = parse_payees("principal_id,name,iban\n" + "\n".join(
        f"{p.principal_id},Renamed,{p.iban}" for p in payees.values()))
    with pytest.raises(InputError, match=f"ALREADY_BATCHED in batch {batch.provider_batch_id}"):
        service.create_window_batch(WINDOW, "csv", tmp_path / "b2.csv", payees=changed, debtor=other,
                                    db_url=db_url)
    assert not (tmp_path / "b2.csv").exists()
    [stored] = persist.load_batches(WINDOW, db_url=db_url)
    assert (stored["provider_batch_id"], stored["sha256"]) == (batch.provider_batch_id, batch.sha256)


def test_demo_hook(vgos_home, tmp_path):
    from vgos.acceptance import demo_issuers
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli_acceptance import demo_acceptance
    from vgos_app.demo import seed_events_path

    demo_acceptance(WINDOW, fold_files([seed_events_path()], WINDOW, load_policy()), as_of=AS_OF)
    out = service.run_demo_recon(WINDOW, out_dir=tmp_path, as_of=AS_OF, issuer_key=demo_issuers(vgos_home)["recon"])
    assert out["recon"]["fully_reconciled"] and out["recon"]["matched_share"] == "100.0000%"
    assert out["spv_proofs"][0]["status"] == "CONFIRMED" and out["spv_proofs"][0]["signature"]
    assert (vgos_home / "drop" / "reports" / "camt054").is_dir()
    assert "| (none) |" in out["recon"]["preview_markdown"]
