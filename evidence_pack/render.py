"""The evidence pack page: one static HTML document with inline CSS and SVG, no script and no external asset.

A Content-Security-Policy forbids loading anything (scripts, styles, images, fonts) from anywhere, so the page shows
the same on an air-gapped machine and cannot call out when opened.
"""

from __future__ import annotations

from typing import Any

from evidence_pack import sections_money as sm
from evidence_pack import sections_seal as ss
from evidence_pack.html_parts import badge, code, esc
from evidence_pack.money import fmt_money

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
CSS = """
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f23;
margin:0 auto;max-width:1100px;padding:24px}h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:2px solid
#e1e4e8;padding-bottom:4px;margin-top:32px}h3{font-size:15px;margin:18px 0 6px}code,pre{font:12px/1.4 ui-monospace,
"DejaVu Sans Mono",monospace;word-break:break-all}pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:10px;
white-space:pre-wrap}table{border-collapse:collapse;margin:6px 0;width:100%}th,td{border:1px solid #e1e4e8;
padding:3px 7px;text-align:left;vertical-align:top}th{background:#f6f8fa}td.num,th.num{text-align:right;
white-space:nowrap}td.none{color:#78909c;font-style:italic}dl{display:grid;grid-template-columns:190px 1fr;gap:4px 12px;
margin:8px 0}dt{font-weight:600;color:#444}dd{margin:0}.badge{display:inline-block;border-radius:3px;padding:0 6px;
color:#fff;font-size:12px;font-weight:600}.ok{background:#2e7d32}.warn{background:#ef6c00}.bad{background:#c62828}
.info{background:#1565c0}.muted{background:#78909c}.small{font-size:12px;color:#555}.note{font-size:12px;color:#555}
.error{color:#c62828;font-weight:600}.fig{margin:8px 0}svg.chart text{font:12px system-ui,sans-serif;fill:#1b1f23}
svg.chart text.empty{fill:#78909c;font-style:italic}nav{font-size:13px;margin:8px 0 0}nav a{margin-right:10px}
.summary{display:flex;flex-wrap:wrap;gap:8px;margin:12px 0}.summary div{border:1px solid #e1e4e8;padding:6px 10px;
border-radius:4px}@media print{body{padding:0;max-width:none}section{break-inside:auto}h2{break-after:avoid}
nav{display:none}a{color:inherit;text-decoration:none}}
"""
NAV = (("window", "Window"), ("reverify", "Re-verify"), ("rejects", "Rejects"), ("allocations", "Allocations"),
       ("gate", "Gate"), ("payouts", "Payouts"), ("recon", "Reconciliation"), ("ledger", "Ledger"),
       ("netsuite", "NetSuite"), ("runs", "Runs"))


def _headline(ev: dict[str, Any]) -> str:
    """The figures an auditor looks for first, in one row."""
    st = ev["settlement"]
    ccy = st["seal"]["window"]["currency"]
    ver = st["verification"]
    recon = ev["money"]["recon"].get("value")
    ns = ev["money"]["netsuite"]
    cells = [
        "transcript " + (badge("VERIFIED", "ok") if ver and ver["ok"] else
                         badge("FAILED", "bad") if ver else badge("not checked", "muted")),
        f"payout {esc(fmt_money(st['seal']['totals']['payout_minor'], ccy))}",
        f"rejected {esc(st['seal']['totals'].get('events_rejected', len(st['rejects'])))}",
        "recon " + (badge("fully reconciled", "ok") if recon and recon["fully_reconciled"] else
                    badge("open", "bad") if recon else badge("not run", "muted")),
        "NetSuite " + (badge("stamped", "ok") if ns else badge("not synced", "muted")),
    ]
    return '<div class="summary">' + "".join(f"<div>{c}</div>" for c in cells) + "</div>"


def render_html(ev: dict[str, Any]) -> str:
    """The whole page for the gathered evidence of one window (see evidence_pack.gather)."""
    st = ev["settlement"]
    ccy = st["seal"]["window"]["currency"]
    decisive = ev["gate"]["decisive"]
    decisions = {d["principal_id"]: d["decision"] for d in (decisive or {}).get("decisions", [])}
    title = f"Evidence pack — window {st['window_id']} (tenant {st['tenant_id']})"
    body = [f"<header><h1>{esc(title)}</h1>",
            f'<p class="small">output digest {code(st["output_digest"])} · generated {esc(ev["generated_at"])} '
            "by <code>vgos report</code>; read-only view of the store, the transcript and the artifact store.</p>",
            "<nav>" + "".join(f'<a href="#{k}">{esc(v)}</a>' for k, v in NAV) + "</nav>", _headline(ev), "</header>",
            ss.identity(st), ss.reverify(st), ss.rejects(st), ss.allocations(st, decisions),
            ss.gate(ev["gate"], st["output_digest"], ccy),
            sm.payouts(ev["money"]["payouts"], ev["money"]["batches"], ccy), sm.recon(ev["money"]["recon"], ccy),
            sm.ledger(ev["money"]["ledger"]), sm.netsuite(ev["money"]["netsuite"], st["output_digest"]), sm.runs(ev)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="vgos report"><title>{esc(title)}</title><style>{CSS}</style></head>'
            f"<body>{''.join(body)}</body></html>\n")
