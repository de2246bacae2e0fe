"""Subcommands verify, replay, proof, acceptance and authorize, and the demo's acceptance step."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from vgos.errors import InputError


def _as_of(text: str | None) -> dt.datetime:
    """--as-of as RFC 3339 (Z or offset); the clock is read here, at the edge, only when it is omitted."""
    from vgos.acceptance import parse_ts

    if text is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    try:
        return parse_ts(text, "--as-of")
    except ValueError as exc:
        raise InputError(str(exc)) from None


def cmd_verify(args: argparse.Namespace) -> int:
    """vgos verify PATH: offline verification of a transcript folder or s3:// prefix against trusted keys only."""
    import re

    from vgos.replay import verify_transcript
    from vgos.signing import canonical_public_pem
    from vgos.trust import trusted_keys

    pubs = []
    for f in args.pubkey or ():
        try:
            data = Path(f).read_bytes()
        except OSError as exc:
            raise InputError(f"{f}: cannot read public key: {exc.strerror or exc}") from None
        try:
            pubs.append(canonical_public_pem(data))
        except ValueError as exc:
            raise InputError(f"{f}: --pubkey: {exc}") from None
    expect_digest = args.expect_digest
    if expect_digest is not None and not re.fullmatch(r"[0-9a-fA-F]{64}", expect_digest):
        raise InputError(f"--expect-digest {expect_digest!r}: expected 64 hex digits (an output_digest)")
    if args.expect_window is not None:
        try:
            ok = bool(re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", args.expect_window)) and \
                dt.date.fromisoformat(args.expect_window).isoformat() == args.expect_window
        except ValueError:
            ok = False
        if not ok:
            raise InputError(f"--expect-window {args.expect_window!r}: expected a window id YYYY-MM-DD")
    target = str(args.path)
    if not target.startswith("s3://") and (Path(target) / "transcript" / "index.json").exists():
        target = str(Path(target) / "transcript")  # a `vgos fold --out` folder
    report = verify_transcript(target, trusted=trusted_keys(pubs), expect_digest=expect_digest,
                               expect_window=args.expect_window)
    print(report.line())
    return 0 if report.ok else 1


def cmd_replay(args: argparse.Namespace) -> int:
    """vgos replay D: replay the window's current transcript and compare digests."""
    from vgos.replay import replay_window

    rep = replay_window(args.window_id, args.tenant)
    if rep.ok:
        print(f"REPLAY OK window {args.window_id} digest {rep.replay_digest}")
        return 0
    print(f"{rep.reason or 'DIGEST_MISMATCH'} window {args.window_id}: sealed {rep.sealed_digest} "
          f"replayed {rep.replay_digest or '-'}")
    for d in rep.diff:
        print(f"  {d['principal_id']:<20} {d['field']:<18} sealed={d['sealed']} replayed={d['replayed']}")
    return 1


def cmd_proof_submit(args: argparse.Namespace) -> int:
    """vgos proof submit F…: accept signed proofs, quarantine the rest with a reason."""
    from vgos.acceptance import submit_proof

    refused = 0
    for f in args.files:
        res = submit_proof(f)
        if res.accepted:
            print(f"ACCEPTED {f}{' (already recorded)' if res.duplicate else ''}")
            if res.warning:
                print(f"  warning: {res.warning}")
        else:
            refused += 1
            print(f"vgos: error: {f}: QUARANTINED {res.reason}: {res.message}", file=sys.stderr)
    return 2 if refused else 0


def cmd_proof_ingest(args: argparse.Namespace) -> int:
    """vgos proof ingest: submit every proof dropped under <drop zone>/proofs/."""
    from vgos.acceptance import ingest_proof_drops

    results = ingest_proof_drops()
    for r in results:
        state = "ACCEPTED" if r.accepted else f"QUARANTINED {r.reason}: {r.message}"
        print(f"{state} {r.source}")
    return 0


def cmd_proof_quarantine(args: argparse.Namespace) -> int:
    """vgos proof quarantine: list refused proofs with their reason codes."""
    from vgos.acceptance import quarantine_list

    for q in quarantine_list():
        print(f"{q['received_at']}  {q['reason_code']:<18} {q['source']}  {q['message']}")
    return 0


def cmd_acceptance_show(args: argparse.Namespace) -> int:
    """vgos acceptance show D: the acceptance matrix (markdown)."""
    from vgos.acceptance import acceptance_matrix

    print(acceptance_matrix(args.window_id, as_of=_as_of(args.as_of), tenant_id=args.tenant).to_markdown(), end="")
    return 0


def cmd_authorize(args: argparse.Namespace) -> int:
    """vgos authorize D: run the gate and print per-principal decisions."""
    from vgos.gate import authorize

    what_if = args.as_of is not None
    res = authorize(args.window_id, as_of=_as_of(args.as_of), tenant_id=args.tenant,
                    purpose="what-if" if what_if else "evaluate")
    print(res.table())
    print(f"output_digest {res.output_digest}  decisions_digest {res.decisions_digest}  as_of {res.as_of}  "
          f"signed by {res.key_id} ({res.algorithm})")
    if what_if:
        print("what-if view at a supplied time: recorded, never payable (`vgos batch create` evaluates the gate "
              "itself, at the time it runs)")
    return 1 if any(d["reason_code"] == "DIGEST_MISMATCH" for d in res.decisions) else 0


def register(subparsers: Any) -> None:
    """Add verify, replay, proof, acceptance and authorize to the `vgos` command."""
    p = subparsers.add_parser("verify", help="verify a transcript offline (folder or s3://…)")
    p.add_argument("path", help="transcript folder, a `fold --out` folder, or s3://bucket/prefix")
    p.add_argument("--pubkey", type=Path, action="append", metavar="F",
                   help="trusted signer public key (PEM); repeatable; when given, ONLY these keys are trusted "
                        "(default: the trust file VGOS_TRUSTED_KEYS and the local signer's key, never the "
                        "transcript's own key.pem)")
    p.add_argument("--expect-digest", metavar="HEX", help="fail unless the transcript seals this output_digest")
    p.add_argument("--expect-window", metavar="D", help="fail unless the transcript is for this window id")
    p.set_defaults(func=cmd_verify)

    p = subparsers.add_parser("replay", help="replay a window from its transcript; digest equality")
    p.add_argument("window_id")
    p.add_argument("--tenant", default="default")
    p.set_defaults(func=cmd_replay)

    p = subparsers.add_parser("proof", help="acceptance evidence in (ACK/CT/SPV)")
    ps = p.add_subparsers(dest="proof_command", required=True, metavar="ACTION")
    q = ps.add_parser("submit", help="submit signed proof files")
    q.add_argument("files", nargs="+", type=Path)
    q.set_defaults(func=cmd_proof_submit)
    q = ps.add_parser("ingest", help="submit every proof in <drop zone>/proofs/")
    q.set_defaults(func=cmd_proof_ingest)
    q = ps.add_parser("quarantine", help="list refused proofs and their reasons")
    q.set_defaults(func=cmd_proof_quarantine)

    p = subparsers.add_parser("acceptance", help="acceptance matrix of a window")
    ps = p.add_subparsers(dest="acceptance_command", required=True, metavar="ACTION")
    q = ps.add_parser("show", help="kinds × required, quorum, fresh, expires, status")
    q.add_argument("window_id", metavar="D", help="the window's id (its close date, YYYY-MM-DD)")
    q.add_argument("--as-of", help="read-only what-if at this time, RFC 3339 (default: now)")
    q.add_argument("--tenant", default="default")
    q.set_defaults(func=cmd_acceptance_show)

    p = subparsers.add_parser("authorize", help="run the authorization gate for a window")
    p.add_argument("window_id", metavar="D", help="the window's id (its close date, YYYY-MM-DD)")
    p.add_argument("--as-of", help="read-only what-if at this time, RFC 3339 (default: now); never releases money")
    p.add_argument("--tenant", default="default")
    p.set_defaults(func=cmd_authorize)


# ---------------------------------------------------------------- demo hook


def seed_ct_rows(path: Path | None = None) -> list[dict[str, str]]:
    """The seed CT table (principal_id, status, reason)."""
    import csv

    if path is None:
        from importlib import resources

        path = Path(str(resources.files("vgos") / "samples" / "seed_ct.csv"))
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def demo_proofs(window_id: str, tenant_id: str, output_digest: str, *, issued: dt.datetime) -> list[dict[str, Any]]:
    """Signed demo evidence bound to a digest: one ACK from finance-1 and the seed CT table from compliance."""
    from vgos.acceptance import demo_issuers, fmt_ts, sign_proof

    keys = demo_issuers()
    base = {"window_id": window_id, "tenant_id": tenant_id, "issued_at": fmt_ts(issued),
            "output_digest": output_digest}
    proofs = [sign_proof({**base, "kind": "ACK", "subject_id": window_id, "status": "ACCEPTED",
                          "issuer": "finance-1", "expires_at": fmt_ts(issued + dt.timedelta(days=1))},
                         keys["finance-1"])]
    for row in seed_ct_rows():
        body = {**base, "kind": "CT", "subject_id": row["principal_id"], "status": row["status"],
                "issuer": "compliance", "expires_at": fmt_ts(issued + dt.timedelta(days=30))}
        if row.get("reason"):
            body["reason"] = row["reason"]
        proofs.append(sign_proof(body, keys["compliance"]))
    return proofs


def demo_acceptance(window_id: str, result: Any, *, as_of: dt.datetime, ack_age_s: int = 60,
                    db_url: str | None = None) -> Any:
    """Demo: publish the transcript if needed, create issuer keys, submit a fresh ACK and the seed CT, run the gate."""
    from vgos.acceptance import submit_proof
    from vgos.gate import authorize
    from vgos.transcript import current_transcript, publish_transcript

    ref = current_transcript(window_id, result.tenant_id, db_url)
    if ref is None or ref.output_digest != result.output_digest:
        publish_transcript(result, db_url=db_url)
    issued = as_of - dt.timedelta(seconds=ack_age_s)
    for p in demo_proofs(window_id, result.tenant_id, result.output_digest, issued=issued):
        res = submit_proof(p, db_url=db_url, as_of=as_of, source="demo")
        if not res.accepted:
            raise InputError(f"demo proof refused: {res.reason}: {res.message}")
    return authorize(window_id, as_of=as_of, tenant_id=result.tenant_id, db_url=db_url)
