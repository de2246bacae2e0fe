"""Files that hold secrets are private: the SQLite store (payee bank details) and its -wal/-shm 0600, its folder and
VGOS_HOME 0700, signing and issuer keys 0600 in 0700 folders — whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A permissive umask, as on many shared hosts: the code must not rely on the caller's."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def test_default_store_and_home_are_private(vgos_home: Path) -> None:
    from vgos import config
    from vgos.store.db import get_engine

    vgos_home.chmod(0o775)
    eng = get_engine(config.database_url())
    db = vgos_home / "vgos.db"
    with eng.begin() as conn:  # an open write: the -wal and -shm files exist now
        conn.execute(sa.text("SELECT count(*) FROM alembic_version"))
        conn.execute(sa.text("CREATE TABLE IF NOT EXISTS t_perm (x INTEGER)"))
        wal, shm = Path(f"{db}-wal"), Path(f"{db}-shm")
        assert wal.exists() and shm.exists()
        assert (mode(wal), mode(shm)) == (0o600, 0o600)
    assert mode(db) == 0o600
    assert mode(vgos_home) == 0o700
    lock = Path(f"{db}.migrate-lock")
    assert not lock.exists() or mode(lock) == 0o600


def test_store_in_a_new_folder_and_an_old_open_file(tmp_path: Path) -> None:
    from vgos.store.db import make_engine, migrate

    db = tmp_path / "new" / "state" / "vgos.db"
    eng = make_engine(f"sqlite:///{db}")
    migrate(eng)
    eng.dispose()
    assert (mode(db), mode(db.parent)) == (0o600, 0o700)

    old = tmp_path / "old" / "vgos.db"  # created world-readable by an earlier version
    old.parent.mkdir()
    old.touch(0o644)
    old.chmod(0o644)
    make_engine(f"sqlite:///{old}").dispose()
    assert mode(old) == 0o600
    assert mode(old.parent) == 0o775  # a folder the user chose is left as it is


def test_signing_and_issuer_keys_are_private(vgos_home: Path) -> None:
    from vgos.acceptance import demo_issuers
    from vgos.signing import load_signer

    load_signer()
    demo_issuers()
    keys = vgos_home / "keys"
    assert (mode(keys), mode(keys / "ed25519.pem")) == (0o700, 0o600)
    issuer_keys = vgos_home / "issuer_keys"
    assert mode(issuer_keys) == 0o700
    pems = sorted(issuer_keys.glob("*.pem"))
    assert len(pems) == 4 and {mode(p) for p in pems} == {0o600}
