"""`--json` on the read commands: one JSON document on stdout, integer minor units with their currency, the same
figures as the text tables, the same exit codes; the text form has no Markdown, no Python dicts, no `minor`."""

from __future__ import annotations

import re

import orjson
import pytest

from tests.cli.conftest import WINDOW, run
from vgos_app.render import money


def _both(*args: object, code: int = 0) -> tuple[str, dict]:
    text, js = run(*args), run(*args, "--json")
    assert text.returncode == code and js.returncode == code, (args, text.stderr, js.stderr)
    assert js.stderr == "" and "\x1b[" not in text.stdout + js.stdout
    return text.stdout, orjson.loads(js.stdout)


def _no_markdown_or_dicts(text: str) -> None:
    assert "|---" not in text and "**" not in text and "`" not in text.replace("`vgos", "")
    assert not re.search(r"\{'[a-z_]+': ", text) and not re.search(r"\d minor\b", text)


def test_acceptance_show(paid_window: dict) -> None:
    text, doc = _both("acceptance", "show", WINDOW)
    _no_markdown_or_dicts(text)
    assert doc["window_id"] == WINDOW and doc["output_digest"] == paid_window["result"].output_digest
    lines = text.splitlines()
    assert lines[1].split() == ["kind", "subject", "required", "quorum", "fresh", "expires", "status"]
    for row in doc["rows"]:
        expires = row["expires"] or "—"
        want = [row["kind"], row["subject"], "yes" if row["required"] else "no", str(row["quorum"]),
                str(row["fresh"]), expires, row["status"]]
        assert want in [ln.split() for ln in lines], want
    assert {"CRE-0002": "CT_HOLD"}.items() <= {r["subject"]: r["status"] for r in doc["rows"]}.items()


def test_payouts_show(paid_window: dict) -> None:
    text, doc = _both("payouts", "show", WINDOW)
    _no_markdown_or_dicts(text)
    assert doc["currency"] == "USD" and len(doc["items"]) == 3
    for item in doc["items"]:
        assert isinstance(item["amount_minor"], int)
        assert re.search(rf"{item['principal_id']}\s+PAYOUT\s+{re.escape(money(item['amount_minor'], 'USD'))}\s+"
                         rf"{item['state']}", text), item
    for state, t in doc["totals"].items():
        assert t["currency"] == "USD"
        assert re.search(rf"{state}\s+{t['items']}\s+{re.escape(money(t['amount_minor'], 'USD'))}", text)
    assert {i["principal_id"]: i["amount_minor"] for i in doc["items"]} == {"CRE-0001": 380, "CRE-0002": 275,
                                                                           "CRE-0003": 456}


def test_recon_run_and_cases(paid_window: dict) -> None:
    text, doc = _both("recon", "run", WINDOW, code=1)  # not fully reconciled: exit 1 either way
    _no_markdown_or_dicts(text)
    assert doc["fully_reconciled"] is False and doc["currency"] == "USD"
    assert f"settled {doc['matched']}/{doc['expected']} ({doc['matched_share']})" in text
    assert {d["type"] for d in doc["discrepancies"]} == {"AMOUNT_MISMATCH", "PROVIDER_TOTALS_MISMATCH"}
    for d in doc["discrepancies"]:
        assert re.search(rf"{d['type']}\s+{d['severity']}\s+{d['confidence_pct']}%\s+{d['subject']}\s+"
                         rf"{re.escape(money(d['expected_minor'], 'USD'))}\s+"
                         rf"{re.escape(money(d['actual_minor'], 'USD'))}", text), d
    assert [d["expected_minor"] - d["actual_minor"] for d in doc["discrepancies"]] == [10, 10]

    text, doc = _both("recon", "cases", WINDOW)
    assert len(doc["cases"]) == 2
    for c in doc["cases"]:
        assert re.search(rf"^#{c['id']}\s+{c['status']}\s+{c['severity']}\s+{c['type']}", text, re.M), c
    first = text.split()[0]  # scripts pick the case id from the first column
    assert first == f"#{doc['cases'][0]['id']}"


@pytest.mark.parametrize("argv", [
    ["replay", WINDOW], ["authorize", WINDOW], ["payouts", "history", WINDOW], ["recon", "files"],
    ["ledger", "balance", WINDOW], ["ledger", "verify"], ["keys", "list"], ["audit", WINDOW],
    ["proof", "quarantine"],
])
def test_every_read_command_prints_one_json_document(paid_window: dict, argv: list[str]) -> None:
    r = run(*argv, "--json")
    assert r.returncode == 0, r.stderr
    doc = orjson.loads(r.stdout)
    assert isinstance(doc, dict) and doc


def test_verify_json_keeps_the_exit_code(paid_window: dict, tmp_path) -> None:
    from vgos.transcript import current_transcript

    url = current_transcript(WINDOW).url
    ok = run("verify", url, "--json")
    assert ok.returncode == 0 and orjson.loads(ok.stdout)["ok"] is True
    bad = run("verify", url, "--json", "--expect-digest", "0" * 64)
    assert bad.returncode == 1
    doc = orjson.loads(bad.stdout)
    assert doc["ok"] is False and doc["reason"]


def test_authorize_and_ledger_balance_amounts(paid_window: dict) -> None:
    text, doc = _both("authorize", WINDOW)
    _no_markdown_or_dicts(text)
    for d in doc["decisions"]:
        assert d["payout"]["currency"] == "USD"
        assert re.search(rf"{d['principal_id']}\s+{re.escape(money(d['payout']['amount_minor'], 'USD'))}\s+"
                         rf"{d['decision']}", text)
    text, doc = _both("ledger", "balance", WINDOW)
    for acc in doc["accounts"]:
        assert re.search(rf"{re.escape(acc['account'])}\s+{re.escape(money(acc['debit_minor'], 'USD'))}\s+"
                         rf"{re.escape(money(acc['credit_minor'], 'USD'))}\s+"
                         rf"{re.escape(money(acc['balance_minor'], 'USD'))}", text), acc
    assert [t["balanced"] for t in doc["totals"]] == [True] and re.search(r"total\s.*balanced", text)


def test_recon_files_lines_start_with_the_status_and_sha(paid_window: dict) -> None:
    text, doc = _both("recon", "files")
    [f] = doc["files"]
    assert f["status"] == "PROCESSED" and f["n_receipts"] == 3
    assert text.split()[:4] == ["PROCESSED", f["raw_sha256"][:12], f["format"], "3"]  # scripts take the sha
