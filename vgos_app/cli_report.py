"""`vgos report WINDOW_ID --out FILE.html [--pdf FILE.pdf]`: the evidence pack of a window, for an auditor (over
`evidence_pack`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vgos.errors import InputError, VerificationError


def _check_targets(out: Path, pdf: Path | None) -> None:
    """Refuse a folder, or the same file twice, before anything is read (one line, exit 2)."""
    if out.is_dir():
        raise InputError(f"--out {out}: is a folder; give the HTML file to write")
    if pdf is not None:
        if pdf.is_dir():
            raise InputError(f"--pdf {pdf}: is a folder; give the PDF file to write")
        if pdf.absolute() == out.absolute():
            raise InputError(f"--pdf {pdf}: the same file as --out")


def write_page(out: Path, html: str) -> None:
    """Write the page atomically: temp file beside it, fsync, rename, fsync the folder (readable by others)."""
    from vgos.storage import atomic_write_bytes, fsync_dir

    atomic_write_bytes(out, html.encode("utf-8"), mode=0o644)
    fsync_dir(out.parent)


def cmd_report(args: argparse.Namespace) -> int:
    """Gather the window, render the page, write it (and its PDF); exit 1 if the transcript does not verify."""
    from vgos.config import validate_tenant, validate_window_id

    validate_tenant(args.tenant)
    validate_window_id(args.window_id)
    out, pdf = args.out, args.pdf
    _check_targets(out, pdf)
    exe = None
    if pdf is not None:
        from evidence_pack.browser import require_chromium

        exe = require_chromium()  # say so before any work when the PDF cannot be produced
    from evidence_pack.gather import gather
    from evidence_pack.render import render_html

    ev = gather(args.window_id, args.tenant, verify=not args.no_verify, dagster=not args.no_dagster)
    html = render_html(ev)
    write_page(out, html)
    st = ev["settlement"]
    ver = st["verification"]
    print(f"wrote {out} ({len(html.encode()):,} bytes): window {st['window_id']} (tenant {st['tenant_id']}), "
          f"output_digest {st['output_digest']}, transcript "
          f"{'not verified (--no-verify)' if ver is None else 'VERIFIED' if ver['ok'] else 'FAILED'}")
    if pdf is not None:
        from evidence_pack.browser import print_pdf

        print_pdf(out, pdf, exe=exe)
        print(f"wrote {pdf} ({pdf.stat().st_size:,} bytes)")
    if ver is not None and not ver["ok"]:
        raise VerificationError(ver["reason"] or "VERIFICATION_FAILED",
                                f"window {st['window_id']}: {ver['line']} (the evidence pack {out} shows it)")
    return 0


def register(subparsers: Any) -> None:
    """Add `report` to the `vgos` command."""
    p = subparsers.add_parser("report", help="evidence pack of a window: one self-contained HTML page (and PDF)",
                              description="Write the window's evidence pack: seal, signer, how to re-verify, "
                                          "rejects, allocations, acceptance, gate, payouts, reconciliation, ledger, "
                                          "NetSuite and runs, as one static HTML page with inline charts.")
    p.add_argument("window_id")
    p.add_argument("--tenant", default="default")
    p.add_argument("--out", required=True, type=Path, metavar="FILE.html",
                   help="the HTML file to write (replaced atomically)")
    p.add_argument("--pdf", type=Path, metavar="FILE.pdf",
                   help="also print the page to PDF with headless Chromium (exit 2 if Chromium is absent)")
    p.add_argument("--no-verify", action="store_true",
                   help="skip the offline transcript verification (and its replay) when building the page")
    p.add_argument("--no-dagster", action="store_true", help="leave out the Dagster run ids and asset links")
    p.set_defaults(func=cmd_report)
