"""GL mapping files (allocation components -> GL accounts) and the balanced journal they produce."""

from .journal import Journal, JournalLine, build_journal, check_balanced, journal_csv_bytes, write_journal_csv
from .mapping import GLMapping, load_gl_mapping

__all__ = ["GLMapping", "Journal", "JournalLine", "build_journal", "check_balanced", "journal_csv_bytes",
           "load_gl_mapping", "write_journal_csv"]
