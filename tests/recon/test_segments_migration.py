"""Migration 0009 moves receipts and matches stored as rows into segments, and back on downgrade: nothing lost."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from connectors.psp.receipts import Receipt
from recon.frames import from_parquet
from recon.persist import window_receipts
from vgos.store.db import MIGRATIONS, make_engine

SHA = "c" * 64


def _alembic(conn, rev: str, down: bool = False) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    (command.downgrade if down else command.upgrade)(cfg, rev)


def _old_rows(conn) -> None:
    cols = {"tenant_id": "default", "receipt_id": "", "raw_sha256": SHA, "provider": "bank", "format": "camt054",
            "kind": "DETAIL", "level": "TX", "provider_ref": None, "batch_ref": "VGP20250923-x", "window_ref": None,
            "payee_ref": "DE89", "amount_minor": 0, "currency": "EUR", "fee_minor": 0, "direction": "DBIT",
            "status": "BOOK", "reason": None, "booked_at": "2025-09-24", "source": "a.xml:1", "line": 0, "seq": 0,
            "n_txs": None, "booking": "BOOKED", "reversal": False, "return_code": None, "booking_date": "2025-09-24",
            "value_date": None, "bank_ref": None, "account": "CH93", "parent_seq": 0, "fee_included": False,
            "instructed_minor": None, "instructed_currency": None, "copy": None, "flagged": None}
    rows = [cols | {"receipt_id": f"{SHA[:16]}:{n}:{n}", "end_to_end_id": f"VG20250923-{n:020d}",
                    "amount_minor": 100 + n, "line": n, "seq": n} for n in range(1, 4)]
    rows[1]["flagged"], rows[2]["reversal"] = "TOTALS_MISMATCH", True
    conn.execute(sa.text(f"INSERT INTO recon_receipts ({', '.join(rows[0])}) VALUES "
                         f"({', '.join(':' + k for k in rows[0])})"), rows)
    conn.execute(sa.text("INSERT INTO recon_runs (tenant_id, window_id, output_digest, result_digest, n_expected, "
                         "n_matched, matched_ppm, fully_reconciled, as_of, revision, n_pending) VALUES ('default', "
                         "'2025-09-23', :d, :d, 1, 1, 1000000, :t, 'x', 1, 0)"), {"d": "d" * 64, "t": True})
    conn.execute(sa.text("INSERT INTO recon_matches (run_id, end_to_end_id, principal_id, provider_batch_id, "
                         "receipt_id, method, confidence_pct) VALUES (1, 'VG20250923-1', 'P1', 'B', 'r', "
                         "'end_to_end_id', 100)"))


def _check(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        _alembic(conn, "0008")
        _old_rows(conn)
        _alembic(conn, "0009")
        assert not sa.inspect(conn).has_table("recon_receipts") and not sa.inspect(conn).has_table("recon_matches")
        seg = from_parquet(conn.execute(sa.text("SELECT data FROM recon_receipt_segments")).scalar_one())
        keys = set(conn.execute(sa.text("SELECT key_type, key FROM recon_receipt_keys")).all())
        matches = from_parquet(conn.execute(sa.text("SELECT data FROM recon_match_segments")).scalar_one())
    assert seg["amount_minor"].to_list() == [101, 102, 103] and seg["flagged"].to_list()[1] == "TOTALS_MISMATCH"
    assert keys >= {("batch", "VGP20250923-x"), ("e2e", "VG20250923-"), ("back_day", "2025-09-24")}
    assert matches.to_dicts() == [{"end_to_end_id": "VG20250923-1", "principal_id": "P1", "provider_batch_id": "B",
                                   "receipt_id": "r", "method": "end_to_end_id", "confidence_pct": 100}]
    # the moved receipts are the window's receipts, field for field
    got = window_receipts("2025-09-23", [{"provider_batch_id": "B", "payment_info_id": "VGP20250923-x",
                                          "items": []}], db_url=url)
    assert [(r.seq, r.amount_minor, r.reversal, r.flagged, r.account) for r in got] == [
        (1, 101, False, None, "CH93"), (2, 102, False, "TOTALS_MISMATCH", "CH93"), (3, 103, True, None, "CH93")]
    assert all(isinstance(r, Receipt) for r in got)
    with engine.begin() as conn:
        _alembic(conn, "0008", down=True)
        back = conn.execute(sa.text("SELECT receipt_id, amount_minor, flagged FROM recon_receipts ORDER BY seq")).all()
        m = conn.execute(sa.text("SELECT run_id, end_to_end_id, confidence_pct FROM recon_matches")).all()
        _alembic(conn, "head")
    assert [tuple(r) for r in back] == [(f"{SHA[:16]}:{n}:{n}", 100 + n, "TOTALS_MISMATCH" if n == 2 else None)
                                        for n in range(1, 4)]
    assert [tuple(r) for r in m] == [(1, "VG20250923-1", 100)]


def test_0009_moves_rows_into_segments_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'm.db'}")


def test_0009_moves_rows_into_segments_postgres(pg_url):
    _check(pg_url)
