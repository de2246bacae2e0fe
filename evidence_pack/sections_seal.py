"""Sections of the sealed half: identity and signer, offline re-verification, rejects, allocations, gate."""

from __future__ import annotations

from collections import Counter
from typing import Any

from evidence_pack.charts import Bar, bar_chart
from evidence_pack.html_parts import badge, code, esc, kv, section, table
from evidence_pack.money import fmt_money

TOP_PRINCIPALS = 25


def identity(st: dict[str, Any]) -> str:
    """Window, policy and hash, digest, transcript root, and the trusted key that signed it."""
    w = st["seal"]["window"]
    pol = st["policy"] or {}
    signer = st["signer"]
    ver = st["verification"]
    if ver is None:
        status = badge("not verified (--no-verify)", "muted")
    else:
        status = badge("VERIFIED" if ver["ok"] else f"FAILED {ver['reason']}", "ok" if ver["ok"] else "bad")
    if signer:
        period = "open-ended" if signer["period"] == "-..-" else signer["period"]
        who = (f"{code(signer['key_id'])} {esc(signer['algorithm'])}, trusted from {esc(signer['source'])}, "
               f"valid {esc(period)}<br>fingerprint (SHA-256 of the public key) "
               f"<code id=\"signer-fingerprint\">{esc(signer['fingerprint'])}</code>")
    else:
        who = f"{code(st['key_id'])} {badge('not in the trust store', 'bad')}"
    pairs = [("window", code(st["window_id"])), ("tenant", code(st["tenant_id"])),
             ("window bounds", f"open cutoff {esc(w.get('open_cutoff_ts'))} · cutoff {esc(w.get('cutoff_ts'))} · "
                               f"close {esc(w.get('close_ts'))} · late tolerance {esc(w.get('late_tolerance_s'))} s"),
             ("currency", esc(w.get("currency"))),
             ("policy", f"{esc(w.get('policy_version'))} · bonus {esc(w.get('bonus_ppm'))} ppm"),
             ("policy hash", f'<code id="policy-hash">{esc(w.get("policy_hash"))}</code>'),
             ("output digest", f'<code id="output-digest">{esc(st["output_digest"])}</code>'),
             ("transcript root", f'<code id="transcript-root">{esc(st["transcript_root"])}</code>'),
             ("input digest", code(st["seal"].get("trailer", {}).get("input_digest"))),
             ("transcript", code(st["url"])), ("signed by", who),
             ("verification", f"{status} <span class=\"small\">{esc(ver['line']) if ver else ''}</span>")]
    if st.get("damaged"):
        pairs.append(("transcript segments", f'<span class="error">{esc(st["damaged"])}</span>'))
    acc = pol.get("acceptance") or {}
    rules = table(["kind", "required", "quorum", "freshness"],
                  [[esc(k), esc("yes" if v.get("required") else "no"), esc(v.get("quorum")),
                    esc(f"{v.get('freshness_s')} s")] for k, v in sorted(acc.items())], numeric=(2, 3))
    files = table(["input file", "sha256"], [[esc(f.get("name")), code(f.get("sha256"))] for f in st["input_files"]])
    return section("window", "Window, policy and seal",
                   kv(pairs, dl_id="identity") + "<h3>Acceptance policy</h3>" + rules + "<h3>Inputs</h3>" + files)


def reverify(st: dict[str, Any]) -> str:
    """How an auditor re-verifies offline, with the exact command."""
    fp = st["signer"]["fingerprint"] if st["signer"] else "(the signer is not in this verifier's trust store)"
    body = (f'<pre id="verify-command">{esc(st["verify_command"])}</pre>'
            "<p>The command checks the checkpoint signature against keys <em>you</em> already trust (your trust file "
            "<code>VGOS_TRUSTED_KEYS</code>, or <code>--pubkey FILE</code> with a key obtained independently — never "
            "the key shipped inside the transcript), every segment hash, the Merkle root, the seal digest, and "
            "replays the fold from the transcript alone. It prints <code>VERIFIED</code> and exits 0 only if the "
            f"replayed digest equals the sealed one. Compare the signer's fingerprint with <code>{esc(fp)}</code> "
            "(<code>vgos keys list</code> shows the key ids you trust). No network access is needed for a folder; "
            "an <code>s3://</code> transcript needs read access to that bucket.</p>")
    return section("reverify", "Re-verify offline", body)


def rejects(st: dict[str, Any]) -> str:
    """Rejected events by reason code (chart and counts) and the list of them."""
    rs = st["rejects"]
    by = Counter(r.get("reason") for r in rs)
    totals = st["seal"]["totals"]
    chart = bar_chart("Rejects by reason", [Bar(str(k), v, f"{v:,}", "warn") for k, v in by.most_common()],
                      chart_id="chart-rejects")
    counts = table(["reason", "events"], [[code(k), esc(f"{v:,}")] for k, v in by.most_common()], numeric=(1,),
                   table_id="rejects-by-reason")
    listing = table(["event_id", "reason", "field", "source (file:line)"],
                    [[code(r.get("event_id")), code(r.get("reason")), esc(r.get("field")), esc(r.get("source"))]
                     for r in rs], table_id="rejects-list", more="the transcript's rejects segment has them all")
    head = (f'<p>kept <strong>{totals.get("events_kept", 0):,}</strong> events, rejected '
            f'<strong id="rejected-count">{totals.get("events_rejected", len(rs)):,}</strong>; every reject keeps '
            "its reason code.</p>")
    return section("rejects", "Intake and rejects", head + f'<div class="fig">{chart}</div>' + counts
                   + "<h3>Rejected events</h3>" + listing)


def allocations(st: dict[str, Any], decisions: dict[str, str]) -> str:
    """Allocation totals and the payout distribution (largest first), coloured by gate decision."""
    seal = st["seal"]
    ccy = seal["window"]["currency"]
    t = seal["totals"]
    totals = table(["net", "bonus (floor)", "carry", "payout", "principals", "events kept"],
                   [[esc(fmt_money(t["net_minor"], ccy)), esc(fmt_money(t["bonus_floor_minor"], ccy)),
                     esc(fmt_money(t["carry_minor"], ccy)),
                     f'<strong id="total-payout">{esc(fmt_money(t["payout_minor"], ccy))}</strong>',
                     esc(f"{t.get('principals', len(seal['allocations'])):,}"), esc(f"{t.get('events_kept', 0):,}")]],
                   numeric=(0, 1, 2, 3, 4, 5), table_id="allocation-totals")
    allocs = sorted(seal["allocations"], key=lambda a: (-a["payout_minor"], a["principal_id"]))
    tone = {"ALLOW": "ok", "HOLD": "warn"}
    bars = [Bar(a["principal_id"], a["payout_minor"], fmt_money(a["payout_minor"], ccy),
                tone.get(decisions.get(a["principal_id"], ""), "info")) for a in allocs[:TOP_PRINCIPALS]]
    rest = allocs[TOP_PRINCIPALS:]
    if rest:
        bars.append(Bar(f"{len(rest):,} others", sum(a["payout_minor"] for a in rest),
                        fmt_money(sum(a["payout_minor"] for a in rest), ccy), "muted"))
    chart = bar_chart("Payout distribution", bars, chart_id="chart-payouts")
    rows = [[code(a["principal_id"]), esc(f"{a['events']:,}"), esc(fmt_money(a["net_minor"], ccy)),
             esc(fmt_money(a["bonus_floor_minor"], ccy)), esc(fmt_money(a["carry_minor"], ccy)),
             esc(fmt_money(a["payout_minor"], ccy)), esc(decisions.get(a["principal_id"], "—"))] for a in allocs]
    listing = table(["principal", "events", "net", "bonus", "carry", "payout", "gate"], rows,
                    numeric=(1, 2, 3, 4, 5), table_id="allocations",
                    more="allocations.csv of the fold output or the transcript's allocations segment")
    legend = ('<p class="small">Bars: green ALLOW, amber HOLD at the decisive gate run; largest '
              f"{TOP_PRINCIPALS} principals, the rest summed.</p>")
    return section("allocations", "Allocations", totals + f'<div class="fig">{chart}</div>' + legend + listing)


def gate(g: dict[str, Any], digest: str, ccy: str) -> str:
    """The acceptance matrix at decision time, the decisions with reasons, and every gate run."""
    run = g["decisive"]
    runs = table(["run", "purpose", "as of", "recorded", "allow", "hold", "decisions digest", "signature"],
                 [[esc(r["run_id"]), esc(r["purpose"]), esc(r["as_of"]), esc(r["created_at"]), esc(r["allow"]),
                   esc(r["hold"]), code(r["decisions_digest"][:16] + "…"),
                   badge("trusted", "ok") if r["signature_ok"] else badge("not verified", "bad")] for r in g["runs"]],
                 numeric=(4, 5), table_id="gate-runs")
    if run is None:
        return section("gate", "Acceptance and gate", "<p>The gate has not run for this window.</p>" + runs)
    stale = "" if run["output_digest"] == digest else (
        f'<p class="error">This run decided on digest {code(run["output_digest"])}, not the current seal.</p>')
    m = run.get("matrix") or {"rows": []}
    matrix = table(["kind", "subject", "required", "quorum", "fresh", "expires", "status"],
                   [[esc(r["kind"]), code(r["subject"]), esc("yes" if r["required"] else "no"), esc(r["quorum"]),
                     esc(r["fresh"]), esc(r["expires"]),
                     badge(r["status"], "ok" if r["status"] == "OK" else "warn" if r["required"] else "muted")]
                    for r in m["rows"]],
                   numeric=(3, 4), table_id="acceptance-matrix")
    decisions = table(["principal", "payout", "decision", "reason"],
                      [[code(d["principal_id"]), esc(fmt_money(d["payout_minor"], ccy)),
                        badge(d["decision"], "ok" if d["decision"] == "ALLOW" else "warn"), code(d["reason_code"])]
                       for d in run["decisions"]], numeric=(1,), table_id="gate-decisions")
    head = (f"<p>Decisive run <strong>#{esc(run['run_id'])}</strong> ({esc(run['purpose'])}) evaluated as of "
            f"<strong>{esc(run['as_of'])}</strong>: ALLOW {esc(run['allow'])}, HOLD {esc(run['hold'])}; signed by "
            f"{code(run['key_id'])}. The matrix below is the one recorded with that run.</p>")
    return section("gate", "Acceptance matrix and gate decisions",
                   head + stale + "<h3>Acceptance matrix at decision time</h3>" + matrix
                   + "<h3>Decisions</h3>" + decisions + "<h3>All gate runs</h3>" + runs)
