"""Receipts and recon matches stored as Parquet segments (one per report file, one per recon run).

A window's million receipts were a million rows written and read one tuple at a time; now a file's receipts are
one columnar segment with a few lookup keys, and a run's matches one segment. Rows already stored are moved into
segments (and back on downgrade); nothing is lost.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

RECEIPT_COLS = ("provider", "format", "kind", "level", "provider_ref", "batch_ref", "end_to_end_id", "window_ref",
                "payee_ref", "amount_minor", "currency", "fee_minor", "direction", "status", "reason", "booked_at",
                "source", "line", "seq", "raw_sha256", "n_txs", "booking", "reversal", "return_code", "booking_date",
                "value_date", "bank_ref", "account", "parent_seq", "fee_included", "instructed_minor",
                "instructed_currency", "copy", "flagged")
MATCH_COLS = ("end_to_end_id", "principal_id", "provider_batch_id", "receipt_id", "method", "confidence_pct")


def _create_segments() -> None:
    op.create_table(
        "recon_receipt_segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recon_receipt_segments"),
        sa.UniqueConstraint("tenant_id", "raw_sha256", name="uq_recon_receipt_segments_sha"),
    )
    op.create_table(
        "recon_receipt_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("key_type", sa.String(16), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recon_receipt_keys"),
    )
    op.create_index("ix_recon_receipt_keys_lookup", "recon_receipt_keys", ["tenant_id", "key_type", "key"])
    op.create_table(
        "recon_match_segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["recon_runs.id"], name="fk_recon_match_segments_run_id_recon_runs",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_recon_match_segments"),
        sa.UniqueConstraint("run_id", name="uq_recon_match_segments_run_id"),
    )


# The migration keeps its own frozen copy of the segment layout (recon.frames, recon.persist.segment_keys): the
# store's migrations import nothing outside the kernel, and what they write must not change with later code.
_BOOL = ("reversal", "fee_included")
_INT = ("amount_minor", "fee_minor", "line", "seq", "n_txs", "parent_seq", "instructed_minor")


def _receipt_schema() -> dict:
    import polars as pl

    return {c: pl.Boolean if c in _BOOL else pl.Int64 if c in _INT else pl.String for c in RECEIPT_COLS}


def _parquet(frame) -> bytes:  # noqa: ANN001
    import io

    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", compression_level=1, statistics=False)
    return buf.getvalue()


def _keys(frame) -> list[tuple[str, str]]:  # noqa: ANN001
    """The same keys recon.persist.segment_keys writes for a new file."""
    import polars as pl

    out: set[tuple[str, str]] = set()
    for kind, col in (("batch", "batch_ref"), ("window", "window_ref")):
        out |= {(kind, v) for v in frame[col].drop_nulls().unique().to_list()}
    e2e = frame["end_to_end_id"].drop_nulls()
    out |= {("e2e", v) for v in e2e.str.extract(r"^(VG[A-Za-z0-9]*-)", 1).drop_nulls().unique().to_list()}
    if (~e2e.str.contains(r"^VG[A-Za-z0-9]*-")).any():
        out.add(("e2e", "*"))
    back = frame.filter((pl.col("reversal") | (pl.col("direction") == "CRDT")) & pl.col("payee_ref").is_not_null()
                        & pl.col("booking_date").is_not_null())
    out |= {("back_day", v) for v in back["booking_date"].unique().to_list()}
    return sorted(out)


def upgrade() -> None:
    _create_segments()
    conn = op.get_bind()
    import polars as pl

    files = conn.execute(sa.text("SELECT DISTINCT tenant_id, raw_sha256 FROM recon_receipts ORDER BY 1, 2")).all()
    for tenant, sha in files:
        rows = conn.execute(sa.text(f"SELECT {', '.join(RECEIPT_COLS)} FROM recon_receipts "
                                    "WHERE tenant_id = :t AND raw_sha256 = :h ORDER BY id"), {"t": tenant, "h": sha})
        frame = pl.DataFrame([tuple(r) for r in rows], schema=_receipt_schema(), orient="row")
        conn.execute(sa.text("INSERT INTO recon_receipt_segments (tenant_id, raw_sha256, n_rows, data) "
                             "VALUES (:t, :h, :n, :d)"), {"t": tenant, "h": sha, "n": frame.height,
                                                          "d": _parquet(frame)})
        keys = [{"t": tenant, "h": sha, "k": k, "v": v} for k, v in _keys(frame)]
        if keys:
            conn.execute(sa.text("INSERT INTO recon_receipt_keys (tenant_id, raw_sha256, key_type, key) "
                                 "VALUES (:t, :h, :k, :v)"), keys)
    runs = conn.execute(sa.text("SELECT DISTINCT run_id FROM recon_matches ORDER BY 1")).scalars().all()
    for run_id in runs:
        rows = conn.execute(sa.text(f"SELECT {', '.join(MATCH_COLS)} FROM recon_matches WHERE run_id = :r "
                                    "ORDER BY end_to_end_id"), {"r": run_id})
        frame = pl.DataFrame([tuple(r) for r in rows], orient="row", schema={
            c: pl.Int64 if c == "confidence_pct" else pl.String for c in MATCH_COLS})
        conn.execute(sa.text("INSERT INTO recon_match_segments (run_id, n_rows, data) VALUES (:r, :n, :d)"),
                     {"r": run_id, "n": frame.height, "d": _parquet(frame)})
    op.drop_table("recon_matches")
    op.drop_table("recon_receipts")


def downgrade() -> None:
    import io

    import polars as pl

    def from_parquet(data: bytes) -> pl.DataFrame:
        return pl.read_parquet(io.BytesIO(data))

    op.create_table(
        "recon_receipts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("receipt_id", sa.String(64), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False, index=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("format", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("provider_ref", sa.Text(), nullable=True),
        sa.Column("batch_ref", sa.String(256), nullable=True, index=True),
        sa.Column("end_to_end_id", sa.String(256), nullable=True, index=True),
        sa.Column("window_ref", sa.String(128), nullable=True),
        sa.Column("payee_ref", sa.String(256), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("booked_at", sa.String(64), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("n_txs", sa.Integer(), nullable=True),
        sa.Column("booking", sa.String(8), nullable=False, server_default="BOOKED"),
        sa.Column("reversal", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("return_code", sa.String(64), nullable=True),
        sa.Column("booking_date", sa.String(32), nullable=True),
        sa.Column("value_date", sa.String(32), nullable=True),
        sa.Column("bank_ref", sa.String(256), nullable=True),
        sa.Column("account", sa.String(64), nullable=True),
        sa.Column("parent_seq", sa.Integer(), nullable=True),
        sa.Column("fee_included", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("instructed_minor", sa.BigInteger(), nullable=True),
        sa.Column("instructed_currency", sa.String(3), nullable=True),
        sa.Column("copy", sa.String(8), nullable=True),
        sa.Column("flagged", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recon_receipts"),
        sa.UniqueConstraint("tenant_id", "receipt_id", name="uq_recon_receipts_receipt_id"),
    )
    op.create_table(
        "recon_matches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False, index=True),
        sa.Column("end_to_end_id", sa.String(256), nullable=False),
        sa.Column("principal_id", sa.String(128), nullable=False),
        sa.Column("provider_batch_id", sa.String(64), nullable=True),
        sa.Column("receipt_id", sa.String(64), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("confidence_pct", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["recon_runs.id"], name="fk_recon_matches_run_id_recon_runs",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_recon_matches"),
        sa.UniqueConstraint("run_id", "end_to_end_id", name="uq_recon_matches_item"),
    )
    conn = op.get_bind()
    cols = ("tenant_id", "receipt_id", *RECEIPT_COLS)
    ins = sa.text(f"INSERT INTO recon_receipts ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
    for tenant, data in conn.execute(sa.text(
            "SELECT tenant_id, data FROM recon_receipt_segments ORDER BY id")).all():
        rows = from_parquet(data).to_dicts()
        if rows:
            conn.execute(ins, [r | {"tenant_id": tenant,
                                    "receipt_id": f"{r['raw_sha256'][:16]}:{r['line']}:{r['seq']}"} for r in rows])
    mins = sa.text(f"INSERT INTO recon_matches (run_id, {', '.join(MATCH_COLS)}) "
                   f"VALUES (:run_id, {', '.join(':' + c for c in MATCH_COLS)})")
    for run_id, data in conn.execute(sa.text("SELECT run_id, data FROM recon_match_segments ORDER BY run_id")).all():
        rows = from_parquet(data).to_dicts()
        if rows:
            conn.execute(mins, [r | {"run_id": run_id} for r in rows])
    op.drop_table("recon_match_segments")
    op.drop_index("ix_recon_receipt_keys_lookup", table_name="recon_receipt_keys")
    op.drop_table("recon_receipt_keys")
    op.drop_table("recon_receipt_segments")
