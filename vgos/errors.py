"""Error types the CLI maps to exit codes: 2 for unusable input or configuration, 1 for a failed check."""

from __future__ import annotations


class InputError(Exception):
    """Unusable input or configuration (exit 2): the message names the file, line or field."""


class VerificationError(Exception):
    """A verification or check failed (exit 1); `reason` is a reason code such as DIGEST_MISMATCH."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
