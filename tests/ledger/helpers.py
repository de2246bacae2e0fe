"""Ledger test helpers: the seed window's gate decisions, SQL behind the application's back, a CLI runner."""

from __future__ import annotations

import argparse
import contextlib
import io

import sqlalchemy as sa

from vgos.errors import InputError, VerificationError

SEED_WINDOW = "2025-09-23"
SEED_DIGEST = "90833464347fd19e2779e0929d7e57b81d4e951f1d96e84eab947d8c4bf97a73"
SEED_CLOSE = "2025-09-23T21:00:00Z"


def seed_decisions(digest: str = SEED_DIGEST) -> list[dict]:
    """The seed's gate result (SPEC §6): CRE-0002 HOLD CT_HOLD, the others ALLOW."""
    return [
        {
            "principal_id": "CRE-0001",
            "payout_minor": 380,
            "decision": "ALLOW",
            "reason_code": None,
            "output_digest": digest,
        },
        {
            "principal_id": "CRE-0002",
            "payout_minor": 275,
            "decision": "HOLD",
            "reason_code": "CT_HOLD",
            "output_digest": digest,
        },
        {
            "principal_id": "CRE-0003",
            "payout_minor": 456,
            "decision": "ALLOW",
            "reason_code": None,
            "output_digest": digest,
        },
    ]


def raw(url: str, *statements: str, params: dict | None = None) -> list:
    """Run SQL behind the application's back (own engine, own transaction); rows of the last statement."""
    eng = sa.create_engine(url)
    try:
        with eng.begin() as conn:
            res = None
            for st in statements:
                res = conn.execute(sa.text(st), params or {})
            return list(res) if res is not None and res.returns_rows else []
    finally:
        eng.dispose()


def drop_append_only_triggers(url: str, tables: tuple[str, ...] = ("ledger_entries", "ledger_lines")) -> None:
    """What an attacker with database access would do first (the tamper tests)."""
    if url.startswith("sqlite"):
        raw(url, *(f"DROP TRIGGER {t}_no_{v}" for t in tables for v in ("update", "delete")))
    else:
        raw(url, *(f"DROP TRIGGER {t}_append_only ON {t}" for t in tables))


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run a `vgos ledger`/`vgos audit` command as `vgos_app.cli.main` does: exit code, stdout, stderr."""
    from vgos_app.cli_ledger import register

    parser = argparse.ArgumentParser(prog="vgos")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = int(args.func(args) or 0)
        except InputError as exc:
            print(f"vgos: error: {exc}", file=err)
            code = 2
        except VerificationError as exc:
            print(f"vgos: FAILED {exc}", file=err)
            code = 1
    return code, out.getvalue(), err.getvalue()
