"""Allocation arithmetic (bonus, carry) and the seal whose RFC 8785 bytes give `output_digest` (SPEC §4–5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from vgos.canonical import jcs_bytes, sha256_hex
from vgos.errors import InputError
from vgos.policy import Policy, WindowBounds, canonical_ts

SCHEMA = "vgos.seal/1"
MAX_SAFE = 2**53 - 1
MICRO = 1_000_000
FOLD_ORDER = ["ts_occurred asc", "event_id asc"]
CARRY_ORDER = ["remainder_micro desc", "principal_id asc"]
_new_object = object.__new__
_set_attr = object.__setattr__


class FoldRangeError(InputError):
    """A sealed value would leave ±(2^53−1): the fold stops instead of wrapping or rounding."""


@dataclass(frozen=True)
class Allocation:
    """One principal's payout for a window, every amount in integer minor units."""

    principal_id: str
    events: int
    net_minor: int
    bonus_floor_minor: int
    remainder_micro: int
    carry_minor: int
    payout_minor: int

    def to_dict(self) -> dict[str, Any]:
        """Seal form of the allocation."""
        return {
            "principal_id": self.principal_id, "events": self.events, "net_minor": self.net_minor,
            "bonus_floor_minor": self.bonus_floor_minor, "remainder_micro": self.remainder_micro,
            "carry_minor": self.carry_minor, "payout_minor": self.payout_minor,
        }


def _guard(name: str, value: int, who: str) -> int:
    if not -MAX_SAFE <= value <= MAX_SAFE:
        raise FoldRangeError(
            f"{who}: {name} = {value} leaves the exact range ±(2^53−1); the window cannot be sealed "
            "without rounding (split the window or check the input amounts)"
        )
    return value


def allocate(per_principal: list[tuple[str, int, int]], bonus_ppm: int) -> list[Allocation]:
    """Bonus floor, remainders and carry of SPEC §4 from (principal_id, events, net_minor) rows."""
    rows = sorted(per_principal, key=lambda r: r[0])
    staged = []
    rem_total = 0
    for pid, events, net in rows:
        _guard("net_minor", net, f"principal {pid!r}")
        raw = max(net, 0) * bonus_ppm
        bonus, rem = divmod(raw, MICRO)
        rem_total += rem
        staged.append((pid, events, net, bonus, rem))
    pool = rem_total // MICRO
    ranked = sorted(range(len(staged)), key=lambda i: (-staged[i][4], staged[i][0]))
    winners = set(ranked[:pool])
    out = []
    for i, (pid, events, net, bonus, rem) in enumerate(staged):
        carry = 1 if i in winners else 0
        payout = _guard("payout_minor", net + bonus + carry, f"principal {pid!r}")
        _guard("bonus_floor_minor", bonus, f"principal {pid!r}")
        out.append(Allocation(pid, events, net, bonus, rem, carry, payout))
    return out


def totals(allocations: list[Allocation], events_kept: int, events_rejected: int) -> dict[str, int]:
    """Window totals of SPEC §5, each checked against the exact range."""
    return _totals_from_sums(
        events_kept, events_rejected, len(allocations), sum(a.net_minor for a in allocations),
        sum(a.bonus_floor_minor for a in allocations), sum(a.payout_minor for a in allocations),
        sum(a.remainder_micro for a in allocations),
    )


def _totals_from_sums(
    events_kept: int, events_rejected: int, principals: int, net: int, bonus: int, payout: int, rem_total: int,
) -> dict[str, int]:
    pool = rem_total // MICRO
    t = {
        "events_kept": events_kept,
        "events_rejected": events_rejected,
        "principals": principals,
        "net_minor": net,
        "bonus_floor_minor": bonus,
        "carry_minor": pool,
        "payout_minor": payout,
        "remainder_micro_total": rem_total,
        "residual_micro": rem_total - pool * MICRO,
    }
    for k, v in t.items():
        _guard(k, v, "window totals")
    return t


def window_section(window: WindowBounds, policy: Policy, tenant_id: str, policy_hash: str) -> dict[str, Any]:
    """The seal's `window` object."""
    return {
        "window_id": window.window_id,
        "tenant_id": tenant_id,
        "currency": policy.currency,
        "close_ts": canonical_ts(window.close_ts),
        "cutoff_ts": canonical_ts(window.cutoff_ts),
        "open_cutoff_ts": canonical_ts(window.open_cutoff_ts),
        "bonus_ppm": policy.bonus_ppm,
        "late_tolerance_s": policy.late_tolerance_s,
        "policy_version": policy.policy_version,
        "policy_hash": policy_hash,
    }


def build_seal(
    window: WindowBounds,
    policy: Policy,
    tenant_id: str,
    allocations: list[Allocation],
    events_kept: int,
    events_rejected: int,
    input_digest: str,
    policy_hash: str | None = None,
) -> dict[str, Any]:
    """The seal object of SPEC §5 (allocations sorted by principal_id)."""
    return {
        "schema": SCHEMA,
        "window": window_section(window, policy, tenant_id,
                                 policy.policy_hash if policy_hash is None else policy_hash),
        "allocations": [a.to_dict() for a in sorted(allocations, key=lambda a: a.principal_id)],
        "totals": totals(allocations, events_kept, events_rejected),
        "trailer": {"fold_order": FOLD_ORDER, "carry_order": CARRY_ORDER, "input_digest": input_digest},
    }


def _seal_from_columns(
    window: WindowBounds,
    policy: Policy,
    tenant_id: str,
    cols: dict[str, list[Any]],
    events_kept: int,
    events_rejected: int,
    input_digest: str,
    policy_hash: str | None,
    objects: bool = True,
) -> tuple[list[Allocation], dict[str, Any]]:
    """`allocate` + `build_seal` from allocation columns that are already sorted by principal_id and range-checked
    (every value a Python int within ±(2^53−1), principal_id a str): the same allocations and seal object.

    `objects=False` returns no Allocation objects (a replay needs only the seal, and not twice the memory)."""
    p, e, n, b, r, c, pay = (cols[k] for k in _ALLOC_KEYS)
    t = _totals_from_sums(events_kept, events_rejected, len(p), sum(n), sum(b), sum(pay), sum(r))
    rows = [
        {"principal_id": p_, "events": e_, "net_minor": n_, "bonus_floor_minor": b_, "remainder_micro": r_,
         "carry_minor": c_, "payout_minor": pay_}
        for p_, e_, n_, b_, r_, c_, pay_ in zip(p, e, n, b, r, c, pay, strict=True)
    ]
    # Each Allocation gets its own copy of the row as instance dict: the same object `Allocation(*row)` builds
    # (no __post_init__), without the frozen dataclass's one-attribute-at-a-time __init__.
    allocations: list[Allocation] = []
    append = allocations.append
    for row in rows if objects else ():
        a = _new_object(Allocation)
        _set_attr(a, "__dict__", row.copy())
        append(a)
    seal = {
        "schema": SCHEMA,
        "window": window_section(window, policy, tenant_id,
                                 policy.policy_hash if policy_hash is None else policy_hash),
        "allocations": rows,
        "totals": t,
        "trailer": {"fold_order": FOLD_ORDER, "carry_order": CARRY_ORDER, "input_digest": input_digest},
    }
    return allocations, seal


def _columns_seal_bytes(seal: dict[str, Any]) -> bytes:
    """`seal_bytes` of a seal from `_seal_from_columns`, without re-walking its (already checked) allocations:
    their member names are ASCII constants, so sorted-key orjson output is their RFC 8785 form."""
    if _check_rest(seal):
        return orjson.dumps(seal, option=orjson.OPT_SORT_KEYS)
    return jcs_bytes(seal)


def seal_bytes(seal: dict[str, Any]) -> bytes:
    """The exact bytes that are hashed and written as seal.json.

    A seal built by `build_seal` has only ASCII member names and range-checked integers, so sorted-key orjson
    output is its RFC 8785 form; anything else goes through the fully checked `jcs_bytes`.
    """
    if seal.get("schema") == SCHEMA and _is_built(seal):
        return orjson.dumps(seal, option=orjson.OPT_SORT_KEYS)
    return jcs_bytes(seal)


def _is_built(seal: dict[str, Any]) -> bool:
    allocs = seal.get("allocations")
    return (
        isinstance(allocs, list)
        and all(type(a) is dict and a.keys() == _ALLOC_KEYS for a in allocs)
        and all(type(v) is int and -MAX_SAFE <= v <= MAX_SAFE
                for a in allocs for k, v in a.items() if k != "principal_id")
        and all(type(a["principal_id"]) is str for a in allocs)
        and _check_rest(seal)
    )


def _check_rest(seal: dict[str, Any]) -> bool:
    rest = {k: v for k, v in seal.items() if k != "allocations"}
    try:
        jcs_bytes(rest)
    except ValueError:
        return False
    return True


def output_digest(seal: dict[str, Any]) -> str:
    """Lowercase hex SHA-256 of the seal's RFC 8785 bytes."""
    return sha256_hex(seal_bytes(seal))


_ALLOC_KEYS = Allocation(" ", 0, 0, 0, 0, 0, 0).to_dict().keys()
