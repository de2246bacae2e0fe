"""`verify` reports each kind of drift on its own: a changed digest, an eligible bill the gate did not allow.

Each test changes one thing in NetSuite (the way a person or another integration would) and expects exactly the
drift items that change explains, so a verify that stops checking one of them fails here.
"""

from __future__ import annotations

import pytest

from connectors.netsuite.model import bill_external_id
from connectors.netsuite.rest_client import RestClient
from connectors.netsuite.soap_client import SuiteTalkClient
from connectors.netsuite.stamping import sync_window, verify_window
from tests.netsuite.conftest import ALLOCATIONS, DIGEST, NO_SLEEP, VENDORS, config_for, decisions, window

OTHER = "0" * 64


def _client(sb, transport: str):
    cfg = config_for(sb, transport=transport)
    return RestClient(cfg, retry=NO_SLEEP) if transport == "rest" else SuiteTalkClient(cfg, retry=NO_SLEEP)


def _set_custom(sb, external_id: str, script_id: str, value: str) -> None:
    """Change one custom body field of a stored bill, as an edit in NetSuite would."""
    rec = sb.store.get("vendorBill", external_id=external_id)
    for cf in rec.fields["customFieldList"]:
        if cf.get("scriptId") == script_id:
            cf.find("{*}value").text = value
            return
    raise AssertionError(f"{external_id} has no {script_id}")


def _kinds(report) -> list[tuple[str, str]]:
    return sorted((i.external_id, i.kind) for i in report.items)


@pytest.mark.parametrize("transport", ["soap", "rest"])
def test_verify_reports_a_bill_whose_digest_differs_from_the_seal(sandbox, transport) -> None:
    """A bill stamped for another seal is not this seal's bill, even with the same amounts and hold."""
    client = _client(sandbox, transport)
    assert sync_window(client, **window()).ok and verify_window(client, **window()).ok
    ext = bill_external_id("default", "2025-09-23", "CRE-0001")
    _set_custom(sandbox, ext, "custbody_vgos_output_digest", OTHER)
    drift = verify_window(client, **window())
    assert _kinds(drift) == [(ext, "DIGEST_DIFFERS")]
    assert (drift.items[0].expected, drift.items[0].actual) == (DIGEST, OTHER)
    # the next sync puts the seal's digest back, and verify is clean again
    assert sync_window(client, **window()).updated == [ext]
    assert verify_window(client, **window()).ok


def test_verify_flags_a_bill_marked_eligible_that_the_gate_did_not_allow(sandbox) -> None:
    """Both ways a bill can be eligible without the gate's ALLOW for this digest are drift."""
    client = _client(sandbox, "soap")
    assert sync_window(client, **window()).ok
    held = bill_external_id("default", "2025-09-23", "CRE-0002")  # the gate holds CRE-0002
    _set_custom(sandbox, held, "custbody_vgos_eligible_to_pay", "true")
    assert _kinds(verify_window(client, **window())) == [(held, "ELIGIBILITY_DIFFERS")]
    sync_window(client, **window())  # puts it back
    # a re-seal drops CRE-0003: its bill is zeroed and not eligible; then someone ticks it eligible again
    resealed = window(allocations=ALLOCATIONS[:2], decisions=decisions()[:2],
                      vendor_map={k: v for k, v in VENDORS.items() if k != "CRE-0003"})
    report = sync_window(client, **resealed)
    dropped = bill_external_id("default", "2025-09-23", "CRE-0003")
    assert report.ok and report.zeroed == [dropped] and verify_window(client, **resealed).ok
    _set_custom(sandbox, dropped, "custbody_vgos_eligible_to_pay", "true")
    drift = verify_window(client, **resealed)
    assert _kinds(drift) == [(dropped, "UNEXPECTED_ELIGIBLE_BILL")]  # 0.00, so not DROPPED_PAYEE_NOT_ZEROED
