"""Headless Chromium on local files only: PDF of the evidence pack, and screenshots/DOM dumps for tests.

Every network feature is off and every host name resolves to nothing, with a proxy on a closed loopback port for
the rest, so rendering a page can never send traffic off the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from vgos.errors import InputError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OFFLINE_FLAGS = ("--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--disable-domain-reliability",
                 "--disable-client-side-phishing-detection", "--disable-breakpad", "--metrics-recording-only",
                 "--mute-audio", "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND",
                 "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def find_chromium() -> str | None:
    """The browser to use: VGOS_CHROMIUM, else chromium (or Chrome) on PATH, else /usr/bin/chromium; None if absent."""
    explicit = os.environ.get("VGOS_CHROMIUM")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def require_chromium() -> str:
    """The browser, or InputError (exit 2) in one line saying it is missing and how to install it."""
    exe = find_chromium()
    if exe is None:
        raise InputError("chromium not found (needed for --pdf): install it (Debian: apt-get install -y chromium) "
                         "or set VGOS_CHROMIUM to the browser's path")
    return exe


def run_headless(page: Path, *extra: str, exe: str | None = None, timeout: int = 120) -> str:
    """Run the browser on file://<page> with the offline flags and `extra`; stdout, or InputError on failure."""
    exe = exe or require_chromium()
    with tempfile.TemporaryDirectory(prefix="vgos-chromium-") as profile:
        cmd = [exe, *OFFLINE_FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
        if os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                                  env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            raise InputError(f"{exe}: no result within {timeout} s rendering {page}") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise InputError(f"{exe} failed rendering {page}: {last}")
    return proc.stdout


def print_pdf(page: Path, pdf: Path, *, exe: str | None = None) -> None:
    """PDF of the page, written atomically: the browser prints to a temp file beside `pdf`, fsynced, then renamed."""
    from vgos.storage import fsync_dir

    pdf.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{pdf.name}.", suffix=".tmp", dir=pdf.parent)
    os.close(fd)
    try:
        run_headless(page, "--no-pdf-header-footer", f"--print-to-pdf={tmp}", exe=exe)
        with open(tmp, "rb") as fh:
            if not fh.read(5).startswith(b"%PDF-"):
                raise InputError(f"{exe or 'chromium'} wrote no PDF for {page}")
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, pdf)
        fsync_dir(pdf.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
