"""`vgos report D --out FILE.html`: the demo window's evidence pack holds the figures an auditor checks, written
atomically as one self-contained page; bad input is one line and exit 2."""

from __future__ import annotations

import hashlib
import html
import os
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from tests.evidence_pack.conftest import WINDOW, DemoWindow, run_vgos


def _signer_fingerprint(home: Path) -> str:
    """SHA-256 of the local signing key's public SubjectPublicKeyInfo, computed here from the key file itself."""
    key = serialization.load_pem_private_key((home / "keys" / "ed25519.pem").read_bytes(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def _text(page: str) -> str:
    """The page's visible text, tags removed and entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_pack_of_the_demo_window_holds_the_key_figures(demo_window: DemoWindow, demo_pack: Path) -> None:
    page = demo_pack.read_text(encoding="utf-8")
    text = _text(page)
    d = demo_window
    # identity: digest, transcript root, policy hash, the trusted signer's fingerprint, VERIFIED
    assert f'<code id="output-digest">{d.output_digest}</code>' in page
    assert f'<code id="transcript-root">{d.transcript_root}</code>' in page
    assert f'<code id="signer-fingerprint">{_signer_fingerprint(d.home)}</code>' in page
    assert "trusted from local signer" in text and "VERIFIED window 2025-09-23" in text
    assert re.search(r'<code id="policy-hash">[0-9a-f]{64}</code>', page)
    # the exact offline re-verification command
    assert (f"vgos verify {d.transcript_url} --expect-digest {d.output_digest} --expect-window {WINDOW}"
            in _text(re.search(r'<pre id="verify-command">.*?</pre>', page).group(0)))
    # rejects by reason and the list of rejected events
    assert "rejected 2" in text
    rejects = _text(re.search(r'<table id="rejects-list">.*?</table>', page).group(0))
    assert "e2 DUPLICATE_EVENT" in rejects and "seed_events.jsonl:3" in rejects
    assert "e4 AFTER_CUTOFF" in rejects and "seed_events.jsonl:5" in rejects
    # allocations with totals, money always `<decimal> <ccy>` from integer minor units
    totals = _text(re.search(r'<table id="allocation-totals">.*?</table>', page).group(0))
    assert "10.10 USD 1.00 USD 0.01 USD 11.11 USD 3 3" in totals
    assert re.search(r"CRE-0003 1 4\.15 USD 0\.41 USD 0\.00 USD 4\.56 USD ALLOW", text)
    # acceptance matrix at decision time and the gate's decisions with reasons
    matrix = _text(re.search(r'<table id="acceptance-matrix">.*?</table>', page).group(0))
    assert "ACK 2025-09-23 yes 1 1" in matrix and "CT CRE-0002 yes 1 0 — CT_HOLD" in matrix
    decisions = _text(re.search(r'<table id="gate-decisions">.*?</table>', page).group(0))
    assert "CRE-0001 3.80 USD ALLOW" in decisions and "CRE-0002 2.75 USD HOLD CT_HOLD" in decisions
    assert "(release) evaluated as of" in text
    # batch, payout item states, reconciliation, ledger, NetSuite
    batches = _text(re.search(r'<table id="batches">.*?</table>', page).group(0))
    assert re.search(r"VGB20250923-[0-9a-f]{16} pain001 2 8\.36 USD", batches)
    items = _text(re.search(r'<table id="payout-items">.*?</table>', page).group(0))
    assert "CRE-0001 PAYOUT 3.80 USD SETTLED" in items and "CRE-0002 PAYOUT 2.75 USD AUTHORIZED" in items
    assert "fully reconciled" in _text(re.search(r'<span id="recon-status">.*?</span>', page).group(0))
    assert "2 of 2 (100.0000%)" in text
    tb = _text(re.search(r'<table id="trial-balance">.*?</table>', page).group(0))
    assert "asset:bank 0.00 USD 8.36 USD -8.36 USD" in tb and "total USD 27.83 USD 27.83 USD balanced" in tb
    assert re.search(r'<code id="ledger-head">[0-9a-f]{64}</code>', page) and "anchored at #3" in text
    assert "stamped" in _text(re.search(r'<span id="netsuite-status">.*?</span>', page).group(0))
    assert "created 3" in text
    # the charts, inline
    for chart in ("chart-payouts", "chart-rejects", "chart-recon", "chart-item-states"):
        assert f'<svg id="{chart}"' in page
    assert "netsuite.sync" in text and "batch.create" in text  # the audit log
    assert "dagster-assets" not in page  # no Dagster instance in this home: the section is left out, no error


def test_pack_is_self_contained_and_never_shows_float_money(demo_pack: Path) -> None:
    page = demo_pack.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page.lower() and "<link" not in page.lower() and "<img" not in page.lower()
    assert "default-src 'none'" in page  # the CSP forbids loading anything from anywhere
    assert not re.search(r"""(src|href)=["'](?!#)""", page)  # only in-page anchors (no Dagster instance here)
    assert "url(" not in page and "@import" not in page
    assert not re.search(r"\b\d+ minor\b", page) and not re.search(r"\b\d+\.\d{3,} USD", page)
    assert os.stat(demo_pack).st_mode & 0o777 == 0o644
    assert [p.name for p in demo_pack.parent.iterdir()] == [demo_pack.name]  # no temp file left behind


def test_rewrite_replaces_the_page_atomically(demo_window: DemoWindow, demo_pack: Path) -> None:
    before = demo_pack.stat().st_ino
    code, _, err = run_vgos("report", WINDOW, "--out", demo_pack, "--no-verify")
    assert code == 0, err
    assert demo_pack.stat().st_ino != before  # a new file renamed over the old one, never rewritten in place
    assert "not verified (--no-verify)" in demo_pack.read_text()
    assert [p.name for p in demo_pack.parent.iterdir()] == [demo_pack.name]


@pytest.mark.parametrize(("args", "message"), [
    (["report", "notadate", "--out", "{tmp}/x.html"], "window_id 'notadate': expected a close date YYYY-MM-DD"),
    (["report", "2025-02-30", "--out", "{tmp}/x.html"], "window_id '2025-02-30': not a calendar date"),
    (["report", WINDOW, "--tenant", "../etc", "--out", "{tmp}/x.html"], "tenant '../etc'"),
    (["report", "2025-09-24", "--out", "{tmp}/x.html"], "window 2025-09-24 (tenant default): no published transcript"),
    (["report", WINDOW, "--tenant", "other", "--out", "{tmp}/x.html"], "(tenant other): no published transcript"),
    (["report", WINDOW, "--out", "{tmp}"], "is a folder"),
    (["report", WINDOW, "--out", "{tmp}/x.html", "--pdf", "{tmp}/x.html"], "the same file as --out"),
])
def test_bad_input_is_one_line_and_exit_2(demo_window: DemoWindow, tmp_path: Path, args: list[str],
                                          message: str) -> None:
    code, out, err = run_vgos(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2, (out, err)
    assert err.count("\n") == 1 and err.startswith("vgos: error: ") and message in err, err
    assert "Traceback" not in err and not (tmp_path / "x.html").exists()


def test_pdf_without_chromium_says_so_and_writes_nothing(demo_window: DemoWindow, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VGOS_CHROMIUM", str(tmp_path / "no-such-browser"))
    code, _, err = run_vgos("report", WINDOW, "--out", tmp_path / "x.html", "--pdf", tmp_path / "x.pdf")
    assert code == 2 and err.count("\n") == 1 and "chromium not found" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_sealed_window_without_money_movement_says_what_is_missing(sealed, tmp_path: Path) -> None:
    out = tmp_path / "sealed.html"
    code, _, err = run_vgos("report", WINDOW, "--out", out)
    assert code == 0, err
    text = _text(out.read_text())
    assert "not synced" in text and "not reconciled yet" in text and "The gate has not run" in text
    assert "11.11 USD" in text and sealed.output_digest in text


def test_a_transcript_that_does_not_verify_is_shown_and_exits_1(sealed, tmp_path: Path) -> None:
    from vgos.transcript import current_transcript, read_index

    ref = current_transcript(WINDOW)
    seg = next(e for e in read_index(ref.open())["segments"] if e["kind"] == "allocations")
    path = Path(ref.url) / "segments" / seg["sha256"]
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"380", b"381"))
    out = tmp_path / "tampered.html"
    code, _, err = run_vgos("report", WINDOW, "--out", out)
    assert code == 1 and err.startswith("vgos: FAILED") and str(out) in err, err
    assert "FAILED" in _text(out.read_text())


def test_chart_labels_are_escaped_and_bars_are_proportional() -> None:
    from evidence_pack.charts import Bar, bar_chart

    svg = bar_chart("t", [Bar("<script>x</script>", 200, "2.00 USD"), Bar("b", 100, "1.00 USD")], chart_id="c")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    widths = [int(w) for w in re.findall(r'<rect [^>]*width="(\d+)"', svg)]
    assert widths[0] == 2 * widths[1]
    assert "no data" in bar_chart("t", [], chart_id="e")
