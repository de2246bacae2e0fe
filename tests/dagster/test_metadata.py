"""What the UI shows of a window's rejects: a table that hostile ids cannot break, bounded in size."""

from __future__ import annotations

from vgos.events import Reject
from vgos_assets.settlement import REJECTS_SHOWN, rejects_markdown


def test_reject_table_escapes_cells_and_says_how_many_more() -> None:
    bad = Reject(event_id="a|b\n| x |", reason="SCHEMA_INVALID", source="in.csv:7", field="amount_minor",
                 detail="secret value 12345")
    rows = [bad] + [Reject(event_id=f"e{i}", reason="DUPLICATE_EVENT", source=f"in.csv:{i}", field=None,
                           detail="") for i in range(REJECTS_SHOWN + 5)]
    md = rejects_markdown(rows)
    lines = md.splitlines()
    assert lines[2] == "| a\\|b \\| x \\| | SCHEMA_INVALID | amount_minor | in.csv:7 |"
    assert sum(1 for line in lines if "| DUPLICATE_EVENT |" in line) == REJECTS_SHOWN - 1
    assert "6 more" in md and "secret value" not in md  # details may echo input values: never shown
    assert rejects_markdown([]) == "no record was rejected"
