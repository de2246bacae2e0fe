"""GL mappings (each tenant's own accounts) and the aggregated, balanced accrual journal they produce."""

from .journal import (
    MAX_LINES_PER_ENTRY,
    Journal,
    JournalLine,
    JournalPart,
    build_journal,
    check_balanced,
    journal_csv_bytes,
    write_journal_csv,
)
from .mapping import DEMO_FILE, GLMapping, load_gl_mapping

__all__ = ["DEMO_FILE", "GLMapping", "Journal", "JournalLine", "JournalPart", "MAX_LINES_PER_ENTRY",
           "build_journal", "check_balanced", "journal_csv_bytes", "load_gl_mapping", "write_journal_csv"]
