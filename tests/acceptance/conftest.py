"""Fixtures for acceptance and gate tests: a published seed window, issuer keys, proof factory."""

from __future__ import annotations

import pytest

from tests.acceptance.helpers import SEED_EVENTS, SEED_WINDOW, ProofFactory


@pytest.fixture
def db_url(vgos_home):
    """The embedded SQLite store of the isolated VGOS_HOME."""
    return f"sqlite:///{vgos_home / 'vgos.db'}"


@pytest.fixture
def seed_result():
    from vgos.fold import fold_files
    from vgos.policy import load_policy

    return fold_files([SEED_EVENTS], SEED_WINDOW, load_policy(None))


@pytest.fixture
def issuer_keys(vgos_home):
    from vgos.acceptance import demo_issuers

    return demo_issuers()


@pytest.fixture
def published(vgos_home, seed_result, db_url):
    from vgos.transcript import publish_transcript

    return publish_transcript(seed_result, db_url=db_url)


@pytest.fixture
def proofs(issuer_keys, seed_result):
    return ProofFactory(issuer_keys, seed_result.output_digest)
