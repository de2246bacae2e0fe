"""RFC 6962 Merkle tree hash against the Certificate Transparency reference vectors; checkpoint parsing."""

from __future__ import annotations

import base64

import pytest

from vgos.transcript import merkle_root, parse_checkpoint

# The eight leaves and roots of certificate-transparency's merkle_tree_test (RFC 6962 §2.1).
LEAVES = [bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                     "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


@pytest.mark.parametrize("n", range(1, 9))
def test_rfc6962_reference_roots(n):
    assert merkle_root(LEAVES[:n]).hex() == ROOTS[n - 1]


def test_empty_tree_is_hash_of_empty_string():
    assert merkle_root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_checkpoint_rejects_non_canonical_base64():
    root = base64.b64encode(bytes(32)).decode()  # ends with one '=': its last char carries unused bits
    good = f"origin\n1\n{root}\n\n\u2014 k {base64.b64encode(bytes(68)).decode()}\n".encode()
    assert parse_checkpoint(good).size == 1
    bad_root = root[:-2] + "B="  # same 32 bytes when decoded leniently
    with pytest.raises(ValueError, match="canonical"):
        parse_checkpoint(good.replace(root.encode(), bad_root.encode()))
