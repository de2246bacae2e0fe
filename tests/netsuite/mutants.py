"""Deliberate bugs in the NetSuite connector, each of which some test in tests/netsuite must catch.

Not collected by pytest (the name does not start with test_). Run from the repository root:

    .venv/bin/python tests/netsuite/mutants.py            # every mutant: its hint tests first, else tests/netsuite
    .venv/bin/python tests/netsuite/mutants.py --full     # every mutant against the whole of tests/netsuite
    .venv/bin/python tests/netsuite/mutants.py --only d,f # some of them

Each mutant is one exact text replacement in one file. The file's bytes are saved first and written back in a
`finally` (also on Ctrl-C), and the script checks they are identical afterwards: it never uses git. A mutant is
*killed* when at least one test fails; the hint tests (the ones expected to catch it) run first, and only when they
all pass is the whole of tests/netsuite run. Exit status 0 when every mutant is killed.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NS = "connectors/netsuite"
T = "tests/netsuite"


@dataclass(frozen=True)
class Mutant:
    id: str
    bug: str
    path: str
    old: str
    new: str
    hints: tuple[str, ...]


MUTANTS: tuple[Mutant, ...] = (
    # -- the eight of issue 13 (six named there; g and h inferred from the code) ----------------------------
    Mutant("a", "consumer key and token swapped in the TokenPassport's signed string", f"{NS}/auth.py",
           '"&".join([account, consumer_key, token_id, nonce, str(timestamp)])',
           '"&".join([account, token_id, consumer_key, nonce, str(timestamp)])',
           (f"{T}/test_signature_independent.py::test_client_passport_equals_the_documented_recipe",
            f"{T}/test_stamping.py::test_demo_window_three_bills_and_rerun_creates_nothing")),
    Mutant("b", "SOAP expenseList replaceAll off (lines appended on update)", f"{NS}/envelope.py",
           'replaceAll="true"', 'replaceAll="false"',
           (f"{T}/test_rest_replace.py::test_soap_reseal_with_new_amounts_replaces_lines",
            f"{T}/test_envelope.py")),
    Mutant("c", "dropped-payee handling off (bills of payees a re-seal dropped stay open)", f"{NS}/stamping.py",
           "if ext not in wanted and not is_zeroed(remote):",
           "if False and ext not in wanted and not is_zeroed(remote):",
           (f"{T}/test_payment_control.py::test_a_reseal_dropping_a_payee_zeroes_its_bill",)),
    Mutant("d", "verify ignores the output digest", f"{NS}/stamping.py",
           "if remote.output_digest != spec.output_digest:", "if False:",
           (f"{T}/test_verify_drift.py::test_verify_reports_a_bill_whose_digest_differs_from_the_seal",)),
    Mutant("e", "SOAP HTTP 429 not retried", f"{NS}/soap_client.py",
           "if resp.status_code == 429:\n            raise status_fault(resp)  # type: ignore[misc]",
           'if resp.status_code == 429:\n            raise NetSuiteError("HTTP_429", "too many requests")',
           (f"{T}/test_network_faults.py::test_each_transient_fault_is_retried_once_and_the_batch_lands",)),
    Mutant("f", "verify's unexpected-eligible check off (an eligible bill the gate did not allow)",
           f"{NS}/stamping.py",
           "if bill.record_type == BILL and bill.eligible_to_pay:", "if False:",
           (f"{T}/test_verify_drift.py::test_verify_flags_a_bill_marked_eligible_that_the_gate_did_not_allow",)),
    Mutant("g", "REST upsert without ?replace=expense (a re-seal appends lines, doubling amounts)",
           f"{NS}/rest_client.py", "eid:{spec.external_id}?replace=expense", "eid:{spec.external_id}",
           (f"{T}/test_rest_replace.py::test_rest_reseal_replaces_lines_instead_of_doubling_them",)),
    Mutant("h", "SOAP search not scoped by tenant", f"{NS}/soap_client.py",
           "if tenant_id is not None:\n            criteria.append(", "if False:\n            criteria.append(",
           (f"{T}/test_tenants.py",)),
    # -- more, inferred from the code -----------------------------------------------------------------------
    Mutant("h2", "REST SuiteQL not scoped by tenant", f"{NS}/rest_client.py",
           "if tenant_id is not None:  # scoped by tenant", "if False:  # scoped by tenant",
           (f"{T}/test_tenants.py",)),
    Mutant("h3", "stamping keeps records of another tenant that a search returned", f"{NS}/stamping.py",
           "for b in found if b.tenant_id == tenant_id}", "for b in found}",
           (f"{T}/test_tenants.py",)),
    Mutant("i", "an eligible bill's hold is cleared even when a person set it", f"{NS}/stamping.py",
           "return (False, False) if held and owned else (None, False)", "return (False, False)",
           (f"{T}/test_payment_control.py::test_a_hold_a_person_sets_survives_syncs_and_vgos_releases_only_its_own",)),
    Mutant("j", "SOAP dates read back by their first 10 characters", f"{NS}/dates.py",
           "return moment.astimezone(zone).date().isoformat()", "return text[:10]",
           (f"{T}/test_dates.py",)),
    Mutant("k", "negative payouts skipped instead of becoming vendor credits", f"{NS}/stamping.py",
           "        decision = by_principal.get(pid)\n",
           "        if payout < 0:\n            continue\n        decision = by_principal.get(pid)\n",
           (f"{T}/test_payment_control.py::test_a_negative_payout_becomes_a_vendor_credit",)),
    Mutant("l", "a request that failed as a whole is re-sent bill by bill", f"{NS}/stamping.py",
           "if result.ok or result.request_failed:", "if result.ok:",
           (f"{T}/test_payment_control.py::test_a_request_failing_as_a_whole_is_not_resent_bill_by_bill",)),
    Mutant("m", "verify ignores amounts", f"{NS}/stamping.py",
           "if sorted(ln.key() for ln in spec.lines) != sorted(ln.key() for ln in remote.lines):", "if False:",
           (f"{T}/test_stamping.py::test_read_back_reports_drift",)),
    Mutant("n", "batches of up to 1000 accepted", f"{NS}/config.py",
           "MAX_BATCH_SIZE = 100 ", "MAX_BATCH_SIZE = 1000 ",
           (f"{T}/test_network_faults.py::test_batch_size_over_100_is_refused_and_lists_are_split",)),
    Mutant("o", "5xx not retried (only 429 is)", f"{NS}/transport.py",
           "if resp.status_code not in RETRY_STATUSES and resp.status_code < 500:",
           "if resp.status_code != 429:",
           (f"{T}/test_network_faults.py::test_each_transient_fault_is_retried_once_and_the_batch_lands",)),
    Mutant("p", "verify does not compare the transcript link at all", f"{NS}/stamping.py",
           'same = link_identity(want) == link_identity(got) if name == "transcript_url" else want == got',
           'same = True if name == "transcript_url" else want == got',
           (f"{T}/test_transcript_url.py::test_a_next_day_verify_of_a_presigned_link_is_no_drift",)),
    Mutant("q", "the fast envelope leaves out paymentHold (differs from zeep's XML)", f"{NS}/envelope.py",
           "if spec.payment_hold is not None:", "if False:",
           (f"{T}/test_envelope.py::test_fast_envelope_equals_what_zeep_builds",)),
)


def run_pytest(targets: list[str], workers: int) -> tuple[int, list[str]]:
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly", *targets]
    if workers > 1:
        cmd[4:4] = ["-n", str(workers)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.MULTILINE)
    return proc.returncode, failed


def try_mutant(m: Mutant, *, full: bool, workers: int) -> dict:
    path = REPO / m.path
    original = path.read_bytes()
    text = original.decode()
    if text.count(m.old) != 1:
        return {"id": m.id, "bug": m.bug, "status": f"NOT APPLIED ({text.count(m.old)} matches in {m.path})",
                "caught_by": []}
    t0 = time.monotonic()
    try:
        path.write_text(text.replace(m.old, m.new))
        rc, failed, scope = 0, [], "hints"
        if not full:
            rc, failed = run_pytest(list(m.hints), 1)
        if rc == 0:
            scope = T
            rc, failed = run_pytest([T], workers)
    finally:
        path.write_bytes(original)
    if path.read_bytes() != original:  # pragma: no cover - would mean the restore itself failed
        raise SystemExit(f"{m.path} was not restored: stop and check it by hand")
    status = "killed" if rc == 1 and failed else "SURVIVED" if rc == 0 else f"pytest exit {rc}"
    return {"id": m.id, "bug": m.bug, "status": status, "caught_by": failed, "scope": scope,
            "seconds": round(time.monotonic() - t0, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="comma-separated mutant ids")
    p.add_argument("--full", action="store_true", help="skip the hint tests: run tests/netsuite for each mutant")
    p.add_argument("-n", "--workers", type=int, default=2, help="pytest-xdist workers for the full run")
    a = p.parse_args(argv)
    wanted = {x.strip() for x in a.only.split(",") if x.strip()}
    results = []
    for m in MUTANTS:
        if wanted and m.id not in wanted:
            continue
        r = try_mutant(m, full=a.full, workers=a.workers)
        results.append(r)
        print(f"{r['id']:>3}  {r['status']:<9} {r['bug']}", flush=True)
        for test in r["caught_by"]:
            print(f"       caught by {test}", flush=True)
    survived = [r for r in results if r["status"] != "killed"]
    print(f"{len(results) - len(survived)}/{len(results)} mutants killed")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main())
