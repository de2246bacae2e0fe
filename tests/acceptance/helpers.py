"""Helpers shared by the acceptance tests: seed constants and a signed-proof factory."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEED_EVENTS = REPO / "vgos" / "samples" / "seed_events.jsonl"
SEED_WINDOW = "2025-09-23"
T0 = dt.datetime(2025, 9, 23, 22, 0, tzinfo=dt.UTC)


def ts(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class ProofFactory:
    """Builds signed proofs for a window digest."""

    def __init__(self, keys, digest):
        self.keys, self.digest = keys, digest

    def make(self, kind, subject, status, issuer, issued, *, digest=None, expires=None, reason=None, key=None):
        from vgos.acceptance import sign_proof

        body = {"window_id": SEED_WINDOW, "kind": kind, "subject_id": subject, "status": status,
                "issued_at": ts(issued), "expires_at": ts(expires or issued + dt.timedelta(days=30)),
                "output_digest": digest or self.digest, "issuer": issuer}
        if reason:
            body["reason"] = reason
        return sign_proof(body, key if key is not None else self.keys[issuer])

    def ack(self, issuer="finance-1", issued=T0 - dt.timedelta(minutes=5), **kw):
        return self.make("ACK", SEED_WINDOW, "ACCEPTED", issuer, issued, **kw)

    def ct(self, principal, status="CLEAR", issued=T0 - dt.timedelta(days=1), **kw):
        if status == "HOLD":
            kw.setdefault("reason", "CT_HOLD")
        return self.make("CT", principal, status, "compliance", issued, **kw)
