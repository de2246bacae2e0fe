"""Subcommands `vgos keys rotate` and `vgos keys list`: the signing key and the trust store (vgos/trust.py)."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """vgos keys rotate: new Ed25519 signing key; the old public key stays trusted until --not-after-old (now)."""
    from vgos.audit import note
    from vgos.trust import rotate_signing_key, utc_text

    now = utc_text(dt.datetime.now(dt.UTC).replace(microsecond=0))  # the clock is read here, at the edge
    rot = rotate_signing_key(now, args.not_after_old)
    note("keys.rotate", f"keys/{rot.new.key_id}", {
        "old_key_id": rot.old.key_id if rot.old else None,
        "old_not_after": rot.old.not_after if rot.old else None,
        "new_key_id": rot.new.key_id,
        "new_not_before": rot.new.not_before,
        "key_path": str(rot.key_path),
        "retired_path": str(rot.retired_path) if rot.retired_path else None,
        "trust_file": str(rot.trust_file),
    })
    if rot.old:
        print(f"retired {rot.old.key_id}: trusted until {rot.old.not_after}; private key kept at {rot.retired_path}")
    print(f"signing key {rot.new.key_id} ({rot.new.algorithm}) at {rot.key_path}, trusted from {rot.new.not_before}")
    print(f"trust file {rot.trust_file}")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """vgos keys list: the keys `vgos verify` trusts, with algorithm, validity period and source."""
    from vgos.trust import trust_file_path, trusted_keys
    from vgos_app.render import print_json, print_table

    keys = trusted_keys()
    if args.json:
        print_json({"trust_file": str(trust_file_path()),
                    "keys": [{"key_id": k.key_id, "algorithm": k.algorithm, "not_before": k.not_before,
                              "not_after": k.not_after, "source": k.source} for k in keys]})
        return 0
    if not keys:
        print(f"no trusted keys (no trust file at {trust_file_path()}, no local signing key)")
        return 0
    print_table(["KEY_ID", "ALGORITHM", "NOT_BEFORE", "NOT_AFTER", "SOURCE"],
                [[k.key_id, k.algorithm, k.not_before or "-", k.not_after or "-", k.source] for k in keys])
    return 0


def register(subparsers: Any) -> None:
    """Add `keys rotate` and `keys list` to the `vgos` command."""
    from vgos_app.render import add_json_flag

    p = subparsers.add_parser("keys", help="signing key rotation and the trusted keys")
    ps = p.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    q = ps.add_parser("rotate", help="make a new Ed25519 signing key; keep the old public key trusted for its period")
    q.add_argument("--not-after-old", metavar="TS",
                   help="end of the old key's validity, RFC 3339 (default: now); windows closing until then verify")
    q.set_defaults(func=cmd_keys_rotate)
    q = ps.add_parser("list", help="the trusted keys: key id, algorithm, validity, source")
    add_json_flag(q)
    q.set_defaults(func=cmd_keys_list)
