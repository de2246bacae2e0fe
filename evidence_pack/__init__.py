"""The evidence pack of a window: one self-contained HTML page (and its PDF) an auditor can read and re-verify.

An outer package: it reads the window through the kernel's and recon's public functions and never writes to the
store; `vgos report D --out FILE.html` is its command (vgos_app.cli_report).
"""
