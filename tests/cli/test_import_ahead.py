"""`vgos fold` imports what it needs only later on a thread while it reads its input: the list names real modules,
and a failing import there never surfaces on that thread (the command's own import reports it where it matters)."""

from __future__ import annotations

import importlib
import sys

from vgos_app import cli


def test_every_module_imported_ahead_exists() -> None:
    for name in cli._FOLD_LATER_IMPORTS:
        assert importlib.util.find_spec(name) is not None, name


def test_a_failing_import_ahead_is_left_to_the_real_import(monkeypatch) -> None:
    errors: list[BaseException] = []
    monkeypatch.setattr("threading.excepthook", lambda args: errors.append(args.exc_value))
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    thread = cli._import_ahead(["vgos_no_such_module_for_this_test", "colorsys"])
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == []
    assert "colorsys" in sys.modules  # the names after a failing one are still imported
