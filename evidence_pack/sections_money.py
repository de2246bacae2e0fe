"""Sections of the money half: batches and payout items, reconciliation, ledger, NetSuite, runs and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from evidence_pack.charts import Bar, bar_chart
from evidence_pack.html_parts import badge, code, error_line, esc, kv, section, table
from evidence_pack.money import fmt_money

STATE_TONE = {"SETTLED": "ok", "AUTHORIZED": "info", "BATCHED": "info", "SENT": "info", "RETURNED": "bad",
              "FAILED": "bad", "CANCELLED": "muted", "RECOVERY": "warn"}


def payouts(part: dict[str, Any], batches: dict[str, Any], ccy: str) -> str:
    """Batches released for the window and every payout item with its state."""
    if "error" in batches:
        btable = error_line("batches", batches["error"])
    else:
        btable = table(["batch", "rail", "items", "control sum", "created", "file sha256", "file"],
                       [[code(b["provider_batch_id"]), esc(b["rail"]), esc(b["n_items"]),
                         esc(fmt_money(b["ctrl_sum_minor"], b.get("currency") or ccy)), esc(b["created_at"]),
                         code(b["sha256"][:16] + "…"), code(b.get("location"))] for b in batches["value"]],
                       numeric=(2, 3), table_id="batches")
    if "error" in part:
        return section("payouts", "Batches and payout items", btable + error_line("payout items", part["error"]))
    p = part["value"]
    live = [i for i in p["items"] if i["live"]]
    summary = table(["state", "items", "amount"],
                    [[badge(s, STATE_TONE.get(s, "info")), esc(v["items"]), esc(fmt_money(v["amount_minor"], ccy))]
                     for s, v in p["summary"].items()], numeric=(1, 2), table_id="item-states")
    chart = bar_chart("Payout items by state", [Bar(s, v["amount_minor"], f"{fmt_money(v['amount_minor'], ccy)} "
                                                   f"({v['items']})", STATE_TONE.get(s, "info"))
                                               for s, v in p["summary"].items()], chart_id="chart-item-states")
    items = table(["principal", "kind", "amount", "state", "reason", "batch", "since"],
                  [[code(i["principal_id"]), esc(i["kind"]), esc(fmt_money(i["amount_minor"], i["currency"])),
                    badge(i["state"], STATE_TONE.get(i["state"], "info")), esc(i["reason"]),
                    code(i["provider_batch_id"]), esc(i["at"])] for i in live],
                  numeric=(2,), table_id="payout-items", more="vgos payouts show D lists them all")
    return section("payouts", "Batches and payout items",
                   "<h3>Batches</h3>" + btable + "<h3>Payout items (current)</h3>" + summary
                   + f'<div class="fig">{chart}</div>' + items
                   + f'<p class="small">{esc(p["transitions"])} recorded transitions '
                   "(<code>vgos payouts history D</code>).</p>")


def recon(part: dict[str, Any], ccy: str) -> str:
    """The stored reconciliation of the current seal: matched share, discrepancies, cases, status chart."""
    if "error" in part:
        return section("recon", "Reconciliation", error_line("the reconciliation", part["error"]))
    r = part["value"]
    if r is None:
        return section("recon", "Reconciliation", '<p id="recon-status">not reconciled yet (no recon run for the '
                       "current seal).</p>" + bar_chart("Reconciliation status", [], chart_id="chart-recon"))
    n_open = sum(1 for d in r["discrepancies"] if d.get("severity") != "INFO")
    unmatched = max(0, r["n_expected"] - r["n_matched"] - r["n_pending"])
    bars = [Bar("matched", r["n_matched"], f"{r['n_matched']:,}", "ok"),
            Bar("pending", r["n_pending"], f"{r['n_pending']:,}", "info"),
            Bar("unmatched", unmatched, f"{unmatched:,}", "bad"),
            Bar("discrepancies", len(r["discrepancies"]), f"{len(r['discrepancies']):,}",
                "bad" if n_open else "muted")]
    ppm = r["matched_ppm"]
    status = badge("fully reconciled" if r["fully_reconciled"] else "not fully reconciled",
                   "ok" if r["fully_reconciled"] else "bad")
    head = kv([("status", f'<span id="recon-status">{status}</span>'),
               ("matched", esc(f"{r['n_matched']:,} of {r['n_expected']:,} ({ppm // 10_000}."
                               f"{ppm % 10_000:04d}%)")),
               ("pending", esc(r["n_pending"])), ("as of", esc(r["as_of"])),
               ("run", f"#{esc(r['id'])} revision {esc(r['revision'])}"), ("result digest", code(r["result_digest"]))])

    def amount(v: Any) -> str:
        return esc(None if v is None else fmt_money(v, ccy))

    disc = table(["type", "severity", "subject", "principal", "expected", "actual", "detail"],
                 [[code(d["type"]), esc(d["severity"]), code(d["subject"]), code(d["principal_id"]),
                   amount(d["expected_minor"]), amount(d["actual_minor"]), esc(d["detail"])]
                  for d in r["discrepancies"]], numeric=(4, 5), table_id="discrepancies")
    cases = table(["case", "type", "status", "owner", "note", "updated"],
                  [[code(c.get("case_key")), esc(c.get("type")), esc(c.get("status")), esc(c.get("owner")),
                    esc(c.get("note")), esc(c.get("updated_at"))] for c in r.get("cases", [])], table_id="cases")
    chart = bar_chart("Reconciliation status", bars, chart_id="chart-recon")
    return section("recon", "Reconciliation", head + f'<div class="fig">{chart}</div><h3>Discrepancies</h3>' + disc
                   + "<h3>Cases</h3>" + cases)


def ledger(part: dict[str, Any]) -> str:
    """The window's trial balance with totals per currency, and the chain head and its anchor."""
    if "error" in part:
        return section("ledger", "Ledger", error_line("the ledger", part["error"]))
    tb = part["value"]["trial_balance"]
    rows = [[code(r["account"]), esc(fmt_money(r["debit_minor"], r["currency"])),
             esc(fmt_money(r["credit_minor"], r["currency"])), esc(fmt_money(r["balance_minor"], r["currency"]))]
            for r in tb]
    for ccy in sorted({r["currency"] for r in tb}):
        d = sum(r["debit_minor"] for r in tb if r["currency"] == ccy)
        c = sum(r["credit_minor"] for r in tb if r["currency"] == ccy)
        rows.append([f"<strong>total {esc(ccy)}</strong>", f"<strong>{esc(fmt_money(d, ccy))}</strong>",
                     f"<strong>{esc(fmt_money(c, ccy))}</strong>",
                     badge("balanced", "ok") if d == c else badge(f"off by {fmt_money(d - c, ccy)}", "bad")])
    chain = part["value"]["chain"]
    if "error" in chain:
        head = f'<p class="error" id="ledger-head">chain verification FAILED: {esc(chain["error"])}</p>'
    else:
        c = chain["value"]
        anchor = (f"anchored at #{esc(c['anchor_seq'])} {code(c['anchor_url'])}" if c["anchor_seq"] is not None
                  else "no anchor yet")
        behind = "" if c["anchor_seq"] in (None, c["head_seq"]) else badge("head newer than its anchor", "warn")
        head = kv([("chain", badge("verified", "ok") + f" {esc(c['entries'])} entries, signed by "
                             f"{esc(', '.join(c['trusted_keys']) or '(no entries)')}"),
                   ("head", f'#{esc(c["head_seq"])} <code id="ledger-head">{esc(c["head_hash"])}</code>'),
                   ("anchor", anchor + behind)])
    return section("ledger", "Ledger", "<h3>Trial balance of the window</h3>"
                   + table(["account", "debit", "credit", "balance"], rows, numeric=(1, 2, 3),
                           table_id="trial-balance") + "<h3>Chain head (whole ledger)</h3>" + head)


def netsuite(row: dict[str, Any] | None, digest: str) -> str:
    """The last recorded NetSuite stamping of the window, or `not synced`."""
    if row is None:
        return section("netsuite", "NetSuite", '<p id="netsuite-status">not synced: no NetSuite sync is recorded '
                       "for this window.</p>")
    s = row["diff_summary"] if isinstance(row["diff_summary"], dict) else {}
    ok = not s.get("failed") and not s.get("missing_vendor")
    same = s.get("output_digest") == digest
    counts = ", ".join(f"{k} {s[k]}" for k in ("created", "updated", "unchanged", "zeroed", "failed",
                                                 "missing_vendor", "skipped") if k in s)
    state = badge("stamped" if ok else "stamped with failures", "ok" if ok else "bad")
    pairs = [("status", f'<span id="netsuite-status">{state}</span>'),
             ("last sync", f"{esc(row['at'])} by {esc(row['actor_id'])}"), ("bills", esc(counts)),
             ("stamped digest", code(s.get("output_digest")) + ("" if same else " " + badge("not the current seal",
                                                                                          "warn")))]
    if isinstance(s.get("journal"), dict):
        pairs.append(("journal", esc(", ".join(f"{k} {v}" for k, v in s["journal"].items()))))
    return section("netsuite", "NetSuite", kv(pairs))


def runs(ev: dict[str, Any]) -> str:
    """Run ids (gate, recon, Dagster) with links to the Dagster UI when an instance is known, and the audit log."""
    g, money = ev["gate"], ev["money"]
    recon_part = money["recon"].get("value")
    pairs = [("gate runs", esc(", ".join(f"#{r['run_id']} {r['purpose']}" for r in g["runs"]) or "none")),
             ("recon run", esc(f"#{recon_part['id']} revision {recon_part['revision']}" if recon_part else "none"))]
    body = kv(pairs)
    dag = ev.get("dagster")
    if dag:
        body += "<h3>Dagster materializations of this partition</h3>" + table(
            ["asset", "run id", "materialized (UTC)"],
            [[f'<a href="{esc(a["asset_url"])}">{esc(a["asset"])}</a>',
              f'<a href="{esc(a["run_url"])}"><code>{esc(a["run_id"])}</code></a>',
              esc(dt.datetime.fromtimestamp(a["at"], dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))] for a in dag["assets"]],
            table_id="dagster-assets")
        body += f'<p class="small">Links open the Dagster UI at {esc(dag["base"])} (<code>make ui</code>).</p>'
    audit = money["audit"]
    if "error" in audit:
        body += error_line("the audit log", audit["error"])
    else:
        body += "<h3>Audit log</h3>" + table(
            ["at", "actor", "action", "correlation", "summary"],
            [[esc(r["at"]), esc(f"{r['actor_type']}:{r['actor_id']}"), code(r["action"]), esc(r["correlation_id"]),
              f'<span class="small">{esc(_summary(r["diff_summary"]))}</span>'] for r in audit["value"]],
            table_id="audit-log")
    return section("runs", "Runs, lineage and audit log", body)


def _summary(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= 240 else text[:239] + "…"
