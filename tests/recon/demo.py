"""Shared test data: the seed demo window's gate decisions and builders for bank files."""

from __future__ import annotations

import json

from lxml import etree

from connectors.psp.batch import Batch, build_batch
from connectors.psp.payees import demo_payees
from connectors.psp.xsd import validation_errors
from recon.service import DEMO_DEBTOR

WINDOW = "2025-09-23"
DIGEST = "90833464347fd19e2779e0929d7e57b81d4e951f1d96e84eab947d8c4bf97a73"
CLOSE = "2025-09-23T21:00:00Z"
DECISIONS = [
    {"principal_id": "CRE-0001", "payout_minor": 380, "decision": "ALLOW", "reason_code": None,
     "output_digest": DIGEST},
    {"principal_id": "CRE-0002", "payout_minor": 275, "decision": "HOLD", "reason_code": "CT_HOLD",
     "output_digest": DIGEST},
    {"principal_id": "CRE-0003", "payout_minor": 456, "decision": "ALLOW", "reason_code": None,
     "output_digest": DIGEST},
]


def debtor() -> dict:
    return json.loads(DEMO_DEBTOR.read_text())


def demo_batch(rail: str = "pain001", decisions: list[dict] | None = None, digest: str = DIGEST) -> Batch:
    return build_batch(rail, tenant_id="default", window_id=WINDOW, output_digest=digest, currency="USD",
                       decisions=decisions or DECISIONS, debtor=debtor(), execution_date="2025-09-24",
                       payees=demo_payees(), created_at=CLOSE)


PAIN002_NS = "urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"


def pain002_for(batch: Batch, statuses: dict[str, tuple[str, str | None]]) -> bytes:
    """A pain.002.001.10 status report (validated against the official XSD) with per-EndToEndId statuses."""
    def el(parent, tag, text=None):
        e = etree.SubElement(parent, f"{{{PAIN002_NS}}}{tag}")
        if text is not None:
            e.text = text
        return e

    root = etree.Element(f"{{{PAIN002_NS}}}Document", nsmap={None: PAIN002_NS})
    rpt = el(root, "CstmrPmtStsRpt")
    hdr = el(rpt, "GrpHdr")
    el(hdr, "MsgId", "STS-" + batch.provider_batch_id[:30])
    el(hdr, "CreDtTm", "2025-09-24T09:00:00Z")
    grp = el(rpt, "OrgnlGrpInfAndSts")
    el(grp, "OrgnlMsgId", batch.provider_batch_id)
    el(grp, "OrgnlMsgNmId", "pain.001.001.09")
    pmt = el(rpt, "OrgnlPmtInfAndSts")
    el(pmt, "OrgnlPmtInfId", batch.payment_info_id)
    for e2e, (sts, reason) in statuses.items():
        tx = el(pmt, "TxInfAndSts")
        el(tx, "OrgnlEndToEndId", e2e)
        el(tx, "TxSts", sts)
        if reason:
            el(el(el(tx, "StsRsnInf"), "Rsn"), "Cd", reason)
    errs = validation_errors("pain.002.001.10", root)
    assert not errs, errs
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
