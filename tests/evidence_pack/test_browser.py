"""The evidence pack in a real headless browser (Debian's chromium, on a local file, network off): the rendered
DOM holds the key figures, the screenshot is a non-empty PNG, and `--pdf` prints a PDF.

Marked slow (the demo window it renders takes ~15 s to build), so it runs under CI=true (`make test` in `.ci/run`)
and with `CI=true make test`. Skips when chromium is absent, except under CI=true (`.ci/run` installs it), where that
is a failure.
Set VGOS_TEST_ARTIFACTS to a folder to keep the page, the screenshot and the PDF it produced.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from tests.evidence_pack.conftest import WINDOW, DemoWindow, run_vgos


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser binary; in CI a missing one fails with the reason instead of skipping."""
    from evidence_pack.browser import find_chromium

    exe = find_chromium()
    if exe is None:
        why = "chromium is not installed (/usr/bin/chromium missing; `.ci/run` installs it with apt-get)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"the evidence pack's browser test needs Chromium in CI: {why}")
        pytest.skip(why)
    return exe


def _keep(*files: Path) -> None:
    folder = os.environ.get("VGOS_TEST_ARTIFACTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copy(f, Path(folder) / f.name)


@pytest.mark.slow
def test_browser_renders_the_pack_with_the_key_figures(chromium: str, demo_window: DemoWindow, demo_pack: Path,
                                                       tmp_path: Path) -> None:
    from evidence_pack.browser import run_headless

    dom = run_headless(demo_pack, "--dump-dom", exe=chromium)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", dom)).split())
    assert demo_window.output_digest in text and demo_window.transcript_root in text
    assert re.search(r'<code id="signer-fingerprint">[0-9a-f]{64}</code>', dom)
    assert f"vgos verify {demo_window.transcript_url} --expect-digest {demo_window.output_digest}" in text
    assert "11.11 USD" in text and "8.36 USD" in text and "total USD 27.83 USD 27.83 USD balanced" in text
    assert "DUPLICATE_EVENT" in text and "AFTER_CUTOFF" in text and "CT_HOLD" in text
    assert dom.count("<svg") >= 4  # the inline charts survived parsing

    shot = tmp_path / "evidence-2025-09-23.png"
    run_headless(demo_pack, f"--screenshot={shot}", "--window-size=1200,4200", exe=chromium)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
    width, height = struct.unpack(">II", data[16:24])  # IHDR: the page was laid out at the requested size
    assert (width, height) == (1200, 4200)
    _keep(demo_pack, shot)


@pytest.mark.slow
def test_report_pdf_is_printed_by_the_browser(chromium: str, demo_window: DemoWindow, tmp_path: Path) -> None:
    out, pdf = tmp_path / "pack.html", tmp_path / "pack.pdf"
    code, stdout, err = run_vgos("report", WINDOW, "--out", out, "--pdf", pdf, "--no-verify")
    assert code == 0, err
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 10_000
    assert f"wrote {pdf}" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack.html", "pack.pdf"]  # no temp file left
    _keep(pdf)
