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


def _window_currency(window_id: str, tenant_id: str) -> str | None:
    """The currency of the window's current seal (the unit of every amount a command prints for it); None when the
    seal cannot be read (the gate then holds DIGEST_MISMATCH and amounts are shown in minor units)."""
    from vgos.transcript import current_transcript, read_seal

    try:
        ref = current_transcript(window_id, tenant_id)
        return None if ref is None else str(read_seal(ref)["window"]["currency"])
    except (OSError, ValueError, KeyError, TypeError, InputError):
        return None


def _check_window_text(flag: str, text: str | None) -> None:
    from vgos.config import validate_window_id

    if text is not None:
        try:
            validate_window_id(text)
        except InputError as exc:
            raise InputError(f"{flag} {text!r}: {str(exc).split(': ', 1)[-1]}") from None


def cmd_verify(args: argparse.Namespace) -> int:
    """vgos verify PATH: offline verification of a transcript folder or s3:// prefix against trusted keys only."""
    import re

    from vgos.replay import verify_transcript
    from vgos.signing import canonical_public_pem
    from vgos.trust import trusted_keys
    from vgos_app.render import print_json, progress_bar

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
    _check_window_text("--expect-window", args.expect_window)
    target = str(args.path)
    if not target.startswith("s3://") and (Path(target) / "transcript" / "index.json").exists():
        target = str(Path(target) / "transcript")  # a `vgos fold --out` folder
    with progress_bar(f"verifying {target}") as progress:
        report = verify_transcript(target, trusted=trusted_keys(pubs), expect_digest=expect_digest,
                                   expect_window=args.expect_window, progress=progress)
    if args.json:
        print_json({"path": target, "ok": report.ok, "reason": report.reason, "segment": report.segment,
                    "message": report.message, "window_id": report.window_id,
                    "output_digest": report.output_digest, "key_id": report.key_id, "key_source": report.key_source,
                    "replay": report.replay.to_dict() if report.replay is not None else None})
    else:
        print(report.line())
    return 0 if report.ok else 1


def cmd_replay(args: argparse.Namespace) -> int:
    """vgos replay WINDOW_ID: replay the window's current transcript and compare digests."""
    from vgos.replay import replay_window
    from vgos_app.render import money, print_json, print_table, progress_bar

    with progress_bar(f"replaying window {args.window_id}") as progress:
        rep = replay_window(args.window_id, args.tenant, progress=progress)
    if args.json:
        print_json({"window_id": args.window_id, "tenant_id": args.tenant, **rep.to_dict()})
        return 0 if rep.ok else 1
    if rep.ok:
        print(f"REPLAY OK window {args.window_id} digest {rep.replay_digest}")
        return 0
    print(f"{rep.reason or 'DIGEST_MISMATCH'} window {args.window_id}: sealed {rep.sealed_digest} "
          f"replayed {rep.replay_digest or '-'}")
    if rep.diff:
        ccy = _window_currency(args.window_id, args.tenant)

        def shown(field: str, value: object) -> object:
            amount = ccy and field.endswith("_minor") and isinstance(value, int) and not isinstance(value, bool)
            return money(value, ccy) if amount else value  # type: ignore[arg-type]

        print_table(["principal_id", "field", "sealed", "replayed"],
                    [[d["principal_id"], d["field"], shown(d["field"], d["sealed"]), shown(d["field"], d["replayed"])]
                     for d in rep.diff])
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
    if not results:
        from vgos.config import drop_zone_root

        print(f"no proof files in {str(drop_zone_root()).rstrip('/')}/proofs/")
    for r in results:
        state = "ACCEPTED" if r.accepted else f"QUARANTINED {r.reason}: {r.message}"
        print(f"{state} {r.source}")
    return 0


def cmd_proof_quarantine(args: argparse.Namespace) -> int:
    """vgos proof quarantine: list refused proofs with their reason codes."""
    from vgos.acceptance import quarantine_list
    from vgos_app.render import print_json, print_table

    rows = quarantine_list()
    if args.json:
        print_json({"quarantined": rows})
    elif not rows:
        print("no quarantined proofs")
    else:
        print_table(["received_at", "reason", "source", "message"],
                    [[q["received_at"], q["reason_code"], q["source"], q["message"]] for q in rows])
    return 0


def cmd_acceptance_show(args: argparse.Namespace) -> int:
    """vgos acceptance show WINDOW_ID: the acceptance matrix, one row per proof kind (and per payee for CT)."""
    from vgos.acceptance import acceptance_matrix
    from vgos_app.render import print_json, print_table

    m = acceptance_matrix(args.window_id, as_of=_as_of(args.as_of), tenant_id=args.tenant)
    if args.json:
        print_json({"tenant_id": args.tenant, **m.to_dict()})
        return 0
    print(f"window {m.window_id} · output_digest {m.output_digest[:16]}… · as of {m.as_of}")
    print_table(["kind", "subject", "required", "quorum", "fresh", "expires", "status"],
                [[r.kind, r.subject, "yes" if r.required else "no", r.quorum, r.fresh, r.expires or "—", r.status]
                 for r in m.rows])
    return 0


def print_decisions(decisions: list[dict[str, Any]], currency: str | None) -> None:
    """Gate decisions as one table: principal, payout (`3.80 USD`), ALLOW/HOLD, reason (also used by the demo)."""
    from vgos_app.render import money, print_table

    print_table(["principal_id", "payout" if currency else "payout (minor units, seal unreadable)", "decision",
                 "reason_code"],
                [[d["principal_id"], money(d["payout_minor"], currency) if currency else d["payout_minor"],
                  d["decision"], d["reason_code"] or ""] for d in decisions])


def cmd_authorize(args: argparse.Namespace) -> int:
    """vgos authorize WINDOW_ID: run the gate and print per-principal decisions."""
    from vgos.gate import authorize
    from vgos_app.render import print_json

    what_if = args.as_of is not None
    res = authorize(args.window_id, as_of=_as_of(args.as_of), tenant_id=args.tenant,
                    purpose="what-if" if what_if else "evaluate")
    ccy = _window_currency(args.window_id, args.tenant)
    code = 1 if any(d["reason_code"] == "DIGEST_MISMATCH" for d in res.decisions) else 0
    if args.json:
        print_json({"window_id": res.window_id, "tenant_id": res.tenant_id, "output_digest": res.output_digest,
                    "decisions_digest": res.decisions_digest, "as_of": res.as_of, "what_if": what_if,
                    "payable": not what_if, "key_id": res.key_id, "algorithm": res.algorithm, "currency": ccy,
                    "decisions": [{"principal_id": d["principal_id"],
                                   "payout": {"amount_minor": d["payout_minor"], "currency": ccy},
                                   "decision": d["decision"], "reason_code": d["reason_code"]}
                                  for d in res.decisions]})
        return code
    print_decisions(res.decisions, ccy)
    print(f"output_digest {res.output_digest}  decisions_digest {res.decisions_digest}  as_of {res.as_of}  "
          f"signed by {res.key_id} ({res.algorithm})")
    if what_if:
        print("what-if view at a supplied time: recorded, never payable (`vgos batch create` evaluates the gate "
              "itself, at the time it runs)")
    return code


def register(subparsers: Any) -> None:
    """Add verify, replay, proof, acceptance and authorize to the `vgos` command."""
    from vgos_app.render import add_json_flag

    p = subparsers.add_parser("verify", help="verify a transcript offline (folder or s3://…)")
    p.add_argument("path", metavar="PATH", help="transcript folder, a `fold --out` folder, or s3://bucket/prefix")
    p.add_argument("--pubkey", type=Path, action="append", metavar="PEM",
                   help="trusted signer public key (PEM); repeatable; when given, ONLY these keys are trusted "
                        "(default: the trust file VGOS_TRUSTED_KEYS and the local signer's key, never the "
                        "transcript's own key.pem)")
    p.add_argument("--expect-digest", metavar="HEX", help="fail unless the transcript seals this output_digest")
    p.add_argument("--expect-window", metavar="WINDOW_ID",
                   help="fail unless the transcript is for this window id (YYYY-MM-DD)")
    add_json_flag(p)
    p.set_defaults(func=cmd_verify)

    p = subparsers.add_parser("replay", help="replay a window from its transcript; digest equality")
    p.add_argument("window_id")
    p.add_argument("--tenant", default="default")
    add_json_flag(p)
    p.set_defaults(func=cmd_replay)

    p = subparsers.add_parser("proof", help="acceptance evidence in (ACK/CT/SPV)")
    ps = p.add_subparsers(dest="proof_command", required=True, metavar="ACTION")
    q = ps.add_parser("submit", help="submit signed proof files")
    q.add_argument("files", nargs="+", type=Path, metavar="FILE", help="signed proof files (JSON); one or more")
    q.set_defaults(func=cmd_proof_submit)
    q = ps.add_parser("ingest", help="submit every proof in <drop zone>/proofs/")
    q.set_defaults(func=cmd_proof_ingest)
    q = ps.add_parser("quarantine", help="list refused proofs and their reasons")
    add_json_flag(q)
    q.set_defaults(func=cmd_proof_quarantine)

    p = subparsers.add_parser("acceptance", help="acceptance matrix of a window")
    ps = p.add_subparsers(dest="acceptance_command", required=True, metavar="ACTION")
    q = ps.add_parser("show", help="kinds × required, quorum, fresh, expires, status")
    q.add_argument("window_id")
    q.add_argument("--as-of", metavar="TS", help="read-only what-if at this time, RFC 3339 (default: now)")
    q.add_argument("--tenant", default="default")
    add_json_flag(q)
    q.set_defaults(func=cmd_acceptance_show)

    p = subparsers.add_parser("authorize", help="run the authorization gate for a window")
    p.add_argument("window_id")
    p.add_argument("--as-of", metavar="TS",
                   help="read-only what-if at this time, RFC 3339 (default: now); never releases money")
    p.add_argument("--tenant", default="default")
    add_json_flag(p)
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
