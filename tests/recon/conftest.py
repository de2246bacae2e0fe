"""Recon tests share the payout registry's sealed seed window fixtures."""

from tests.payouts.conftest import sealed, window  # noqa: F401 (fixtures used by name)
