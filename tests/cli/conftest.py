"""A paid seed window for the CLI output tests: sealed, authorized, batched, sent, and a bank statement that books
one payout 10 cents short (one AMOUNT discrepancy and its case). Built once per module, in-process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.payouts.conftest import vgos as run  # noqa: F401 - the in-process `vgos` runner, re-exported

WINDOW = "2025-09-23"


@pytest.fixture(scope="module")
def paid_window(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The window in its own VGOS_HOME for the module (restored afterwards)."""
    from recon.persist import load_batches
    from tests.recon.bankfiles import Entry, Tx, statement
    from vgos.fold import fold_files
    from vgos.policy import load_policy
    from vgos_app.cli_acceptance import demo_acceptance
    from vgos_app.demo import seed_events_path

    root = tmp_path_factory.mktemp("cli-window")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("VGOS_DATABASE_URL", "VGOS_ARTIFACTS", "VGOS_DROP_ZONE", "VGOS_SIGNING_KEY", "VGOS_KMS_KEY_ID",
                    "VGOS_TRUSTED_KEYS"):
            mp.delenv(var, raising=False)
        mp.setenv("VGOS_HOME", str(root / "vgos_home"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        (root / "dagster_home").mkdir()
        result = fold_files([seed_events_path()], WINDOW, load_policy())
        demo_acceptance(WINDOW, result, as_of=dt.datetime.now(dt.UTC).replace(microsecond=0))
        r = run("batch", "create", WINDOW, "--rail", "pain001", "--out", root / "batch.xml")
        assert r.returncode == 0, r.stderr
        [b] = load_batches(WINDOW)
        assert run("batch", "sent", b["provider_batch_id"]).returncode == 0
        txs = [Tx(i["end_to_end_id"], i["amount_minor"] - (10 if n == 0 else 0), i["payee_ref"], f"T-{n}")
               for n, i in enumerate(b["items"])]
        entry = Entry(sum(t.amount for t in txs), bank_ref="B-1", batch=(b["provider_batch_id"], b["payment_info_id"]),
                      txs=txs)
        (root / "eod.xml").write_bytes(statement([entry]))
        r = run("recon", "ingest", root / "eod.xml", "--format", "camt053")
        assert r.returncode == 0, r.stdout + r.stderr
        yield {"root": root, "result": result, "batch": b}
