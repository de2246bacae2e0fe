"""The registry's rows are append-only in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, vgos_home):
    if request.param == "sqlite":
        return f"sqlite:///{vgos_home / 'registry.db'}"
    return request.getfixturevalue("pg_url")


def test_items_and_transitions_cannot_be_changed_or_deleted(db_url) -> None:
    from vgos.store.db import get_engine

    engine = get_engine(db_url)
    with engine.begin() as c:
        c.execute(sa.text("INSERT INTO payout_items (item_id, tenant_id, window_id, principal_id, output_digest, "
                          "seal_ref, generation, kind, currency, sealed_payout_minor, prior_net_minor, amount_minor, "
                          "created_at) VALUES ('pi_1', 't', 'w', 'p', 'd', 1, 1, 'PAYOUT', 'USD', 5, 0, 5, 'x')"))
        c.execute(sa.text("INSERT INTO payout_transitions (item_id, seq, tenant_id, window_id, to_state, reason, "
                          "actor_id, actor_type, at) VALUES ('pi_1', 1, 't', 'w', 'AUTHORIZED', 'SEALED', 'a', "
                          "'user', 'x')"))
    for stmt in ("UPDATE payout_transitions SET to_state = 'SETTLED'", "DELETE FROM payout_transitions",
                 "UPDATE payout_items SET amount_minor = 500", "DELETE FROM payout_items"):
        with pytest.raises(sa.exc.DBAPIError), engine.begin() as c:
            c.execute(sa.text(stmt))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:  # a second writer of the same step collides
        c.execute(sa.text("INSERT INTO payout_transitions (item_id, seq, tenant_id, window_id, to_state, reason, "
                          "actor_id, actor_type, at) VALUES ('pi_1', 1, 't', 'w', 'BATCHED', 'X', 'a', 'user', 'x')"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:  # never a negative or zero item
        c.execute(sa.text("INSERT INTO payout_items (item_id, tenant_id, window_id, principal_id, output_digest, "
                          "seal_ref, generation, kind, currency, sealed_payout_minor, prior_net_minor, amount_minor, "
                          "created_at) VALUES ('pi_2', 't', 'w', 'p', 'd', 1, 2, 'PAYOUT', 'USD', 5, 0, -5, 'x')"))
