"""The payout client interface every PSP rail implements, plus the submission result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from connectors.psp.batch import Batch


@dataclass(frozen=True)
class SubmitResult:
    """What the provider answered: its references per end_to_end_id, keyed to our provider_batch_id."""

    provider_batch_id: str
    provider_refs: dict[str, str] = field(default_factory=dict)
    status: str = "SUBMITTED"


class PayoutClient(Protocol):
    """Submits a rendered batch to a provider; must be idempotent on the batch's provider_batch_id."""

    def submit(self, batch: Batch) -> SubmitResult: ...
