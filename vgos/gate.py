"""The authorization gate: per principal ALLOW or HOLD with a reason code, bound to the sealed output_digest.

ALLOW only if the replay digest equals the sealed digest, the ACK is fresh with quorum (and SPV when the policy
requires it), the principal's CT is CLEAR, and `payout_minor > 0`. HOLD reasons, highest precedence first (the
first that applies is reported):

    DIGEST_MISMATCH       replay of the transcript does not reproduce the sealed digest (or replay failed)
    MISSING_ACK           no ACK proof at all for the window
    ACK_REJECTED          a REJECTED ACK is in force (any one vetoes)
    STALE_PROOF           ACK proofs exist but none is fresh and bound to the current output_digest
    INSUFFICIENT_QUORUM   fewer distinct fresh ACK issuers than the quorum (high-value quorum above the threshold)
    SPV_MISMATCH / MISSING_SPV / STALE_PROOF / INSUFFICIENT_QUORUM   only when the policy requires SPV: the
                          worst of the window's provider batches (released under the digest, not cancelled), each
                          judged on its own proofs; a MISMATCH in force for any batch holds
    MISSING_CT            no CT proof for the principal
    STALE_PROOF           CT proofs exist for the principal but none is fresh and bound to the digest
    INSUFFICIENT_QUORUM   fewer distinct CLEAR CT issuers than the CT quorum
    CT_HOLD               a current CT proof for the principal says HOLD
    NOTHING_TO_PAY        payout_minor ≤ 0

The evaluation time `as_of` is an input, never the clock. The same inputs (seal, replay outcome, proofs, as_of)
give the same decisions and the same decisions_digest. Runs and decisions are stored append-only.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from vgos.acceptance import Matrix, evaluate_matrix, fmt_ts
from vgos.canonical import jcs_bytes, sha256_hex
from vgos.signing import Signer, verify_signature

ALLOW, HOLD = "ALLOW", "HOLD"


@dataclass
class GateResult:
    """Decisions of one gate run, the signed response and what it was computed from."""

    window_id: str
    tenant_id: str
    output_digest: str
    as_of: str
    decisions: list[dict[str, Any]]
    decisions_digest: str
    response: dict[str, Any]
    signature: str = ""
    algorithm: str = ""
    key_id: str = ""
    public_key_pem: str = ""
    matrix: Matrix | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None

    def verify(self) -> bool:
        """True when the signature over the response verifies under the recorded public key."""
        return verify_signature(self.algorithm, self.public_key_pem.encode(), jcs_bytes(self.response),
                                base64.b64decode(self.signature))

    def table(self) -> str:
        """Fixed-width decisions table: principal_id, payout_minor, decision, reason_code."""
        rows = [("principal_id", "payout_minor", "decision", "reason_code")]
        rows += [(d["principal_id"], str(d["payout_minor"]), d["decision"], d["reason_code"] or "")
                 for d in self.decisions]
        w = [max(len(r[i]) for r in rows) for i in range(4)]
        return "\n".join(f"{r[0]:<{w[0]}}  {r[1]:>{w[1]}}  {r[2]:<{w[2]}}  {r[3]}".rstrip() for r in rows)


def _window_block(matrix: Matrix, acceptance: dict[str, dict[str, Any]]) -> str | None:
    ack = matrix.row("ACK")
    if ack is not None and ack.status != "OK" and acceptance.get("ACK", {}).get("required", True):
        return ack.status
    spv = matrix.row("SPV")
    if spv is not None and spv.status != "OK" and acceptance.get("SPV", {}).get("required", False):
        return spv.status
    return None


def decide(seal: dict[str, Any], replay_ok: bool, matrix: Matrix, acceptance: dict[str, dict[str, Any]]
           ) -> list[dict[str, Any]]:
    """Pure decision function: one decision per sealed allocation, in principal_id order."""
    digest = matrix.output_digest
    window_reason = "DIGEST_MISMATCH" if not replay_ok else _window_block(matrix, acceptance)
    ct_required = acceptance.get("CT", {}).get("required", True)
    out = []
    for a in sorted(seal["allocations"], key=lambda x: x["principal_id"]):
        pid, payout = a["principal_id"], a["payout_minor"]
        reason = window_reason
        if reason is None and ct_required:
            ct = matrix.row("CT", pid)
            if ct is None or ct.status != "OK":
                reason = ct.status if ct is not None else "MISSING_CT"
        if reason is None and payout <= 0:
            reason = "NOTHING_TO_PAY"
        out.append({"principal_id": pid, "payout_minor": payout, "decision": HOLD if reason else ALLOW,
                    "reason_code": reason, "output_digest": digest})
    return out


def evaluate(seal: dict[str, Any], sealed_digest: str, replay: dict[str, Any], proofs: list[dict[str, Any]],
             policy: Any, as_of: dt.datetime, veto_skew_s: int = 0, *, spv_batches: list[str] | None = None
             ) -> tuple[list[dict[str, Any]], Matrix]:
    """Pure gate evaluation from explicit inputs (no store, no clock); `spv_batches` as in evaluate_matrix."""
    acceptance = policy.get("acceptance", {}) if isinstance(policy, dict) else policy.acceptance
    w = seal["window"]
    matrix = evaluate_matrix(w["window_id"], sealed_digest, as_of, {"acceptance": acceptance}, proofs,
                             [a["principal_id"] for a in seal["allocations"]], seal["totals"]["payout_minor"],
                             veto_skew_s=veto_skew_s, spv_batches=spv_batches)
    replay_ok = bool(replay.get("ok")) and replay.get("replay_digest") == sealed_digest
    return decide(seal, replay_ok, matrix, acceptance), matrix


def decisions_digest(decisions: list[dict[str, Any]]) -> str:
    """SHA-256 of the RFC 8785 bytes of the decisions list (principal_id order)."""
    return sha256_hex(jcs_bytes(decisions))


PURPOSES = ("release", "evaluate", "what-if")


def authorize(window_id: str, *, as_of: dt.datetime, tenant_id: str = "default", db_url: str | None = None,
              signer: Signer | None = None, purpose: str = "evaluate") -> GateResult:
    """Replay, evaluate acceptance at `as_of`, decide per principal, sign the response, store it append-only.

    `purpose` is recorded with the run: `release` (evaluated by the code that moves money, at the clock it read),
    `evaluate` (an authorization at the clock), `what-if` (a caller-supplied time: never a payable decision)."""
    from vgos.acceptance import _policy_of, load_proofs
    from vgos.errors import InputError
    from vgos.replay import replay_transcript
    from vgos.signing import load_signer
    from vgos.store.acceptance import GateDecision, GateRun
    from vgos.store.db import session
    from vgos.transcript import current_transcript, read_seal

    if as_of.tzinfo is None:
        raise InputError("as_of: a time zone is required (RFC 3339 with Z or an offset)")
    if purpose not in PURPOSES:
        raise InputError(f"purpose: {purpose!r} (allowed: {', '.join(PURPOSES)})")
    ref = current_transcript(window_id, tenant_id, db_url)
    if ref is None:
        raise InputError(f"window {window_id} (tenant {tenant_id}): no published transcript to authorize")
    seal = read_seal(ref)  # InputError (one line) when the seal itself cannot be read: nothing to decide on
    rep = _replay_or_failure(ref, replay_transcript)
    proofs = load_proofs(window_id, tenant_id, db_url, principals=[a["principal_id"] for a in seal["allocations"]])
    try:
        policy = _policy_of(ref)
    except Exception:  # noqa: BLE001 - a transcript that lost its policy cannot have replayed
        if rep.ok:
            raise
        policy = {"acceptance": {}}  # replay failed: every principal is held DIGEST_MISMATCH whatever the policy
    from vgos.acceptance import max_future_skew_s, spv_batches

    decisions, matrix = evaluate(seal, ref.output_digest, rep.to_dict(), proofs, policy, as_of,
                                 veto_skew_s=max_future_skew_s(),
                                 spv_batches=spv_batches(window_id, ref.output_digest, tenant_id, db_url))
    d_digest = decisions_digest(decisions)
    as_of_s = fmt_ts(as_of)
    response = {"schema": "vgos.gate/1", "window_id": window_id, "tenant_id": tenant_id,
                "output_digest": ref.output_digest, "decisions_digest": d_digest, "as_of": as_of_s,
                "purpose": purpose}
    signer = signer or load_signer()
    sig = base64.b64encode(signer.sign(jcs_bytes(response))).decode()
    used = sorted({h for r in matrix.rows for h in r.proofs})
    inputs = {"as_of": as_of_s, "transcript_url": ref.url, "transcript_root": ref.transcript_root,
              "replay": rep.to_dict(), "proofs_used": used, "matrix": matrix.to_dict(),
              "policy_hash": seal["window"]["policy_hash"]}
    result = GateResult(window_id, tenant_id, ref.output_digest, as_of_s, decisions, d_digest, response, sig,
                        signer.algorithm, signer.key_id, signer.public_key_pem().decode(), matrix, inputs)
    with session(db_url) as s, s.begin():
        run = GateRun(tenant_id=tenant_id, window_id=window_id, output_digest=ref.output_digest, as_of=as_of_s,
                      decisions_digest=d_digest, inputs_json=jcs_bytes(inputs).decode(),
                      response_json=jcs_bytes(response).decode(), signature=sig, algorithm=signer.algorithm,
                      key_id=signer.key_id, public_key_pem=result.public_key_pem,
                      created_at=fmt_ts(dt.datetime.now(dt.UTC)), purpose=purpose)
        s.add(run)
        s.flush()
        result.run_id = run.id
        s.add_all([GateDecision(run_id=run.id, tenant_id=tenant_id, window_id=window_id, as_of=as_of_s, **d)
                   for d in decisions])
    from vgos.audit import note

    allow = sum(1 for d in decisions if d["decision"] == "ALLOW")
    note("gate.authorize", f"window/{tenant_id}/{window_id}",
         {"output_digest": ref.output_digest, "as_of": as_of_s, "purpose": purpose, "decisions_digest": d_digest,
          "allow": allow,
          "hold": len(decisions) - allow}, window_id=window_id, url=db_url)
    return result


def _replay_or_failure(ref: Any, replay: Any) -> Any:
    """The replay of the transcript; a transcript that cannot be replayed (a segment or the index missing,
    unreadable or malformed on disk) is a failed replay with its cause, so the gate holds DIGEST_MISMATCH."""
    from vgos.replay import ReplayResult

    try:
        return replay(ref)
    except Exception as exc:  # noqa: BLE001 - whatever the stored transcript provokes is a failed replay
        detail = (str(exc).strip().splitlines() or [""])[0]
        return ReplayResult(False, ref.output_digest, "", [], ref.window_id, ref.tenant_id,
                            f"REPLAY_FAILED: {type(exc).__name__}{': ' + detail if detail else ''}")


def latest_decisions(window_id: str, tenant_id: str = "default", db_url: str | None = None
                     ) -> list[dict[str, Any]] | None:
    """Decisions of the window's most recent gate run at the real clock (principal_id order), or None.

    What-if runs (a caller-supplied `--as-of`) are views, never the window's standing decisions."""
    from sqlalchemy import select

    from vgos.store.acceptance import GateDecision, GateRun
    from vgos.store.db import session

    with session(db_url) as s:
        run_id = s.scalars(select(GateRun.id).where(GateRun.tenant_id == tenant_id, GateRun.window_id == window_id,
                                                    GateRun.purpose != "what-if")
                           .order_by(GateRun.id.desc()).limit(1)).first()
        if run_id is None:
            return None
        rows = s.scalars(select(GateDecision).where(GateDecision.run_id == run_id)
                         .order_by(GateDecision.id)).all()  # inserted in code-point principal_id order
        return [{"principal_id": r.principal_id, "payout_minor": r.payout_minor, "decision": r.decision,
                 "reason_code": r.reason_code, "output_digest": r.output_digest} for r in rows]

