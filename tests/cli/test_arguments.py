"""Every argument of every command has help; the window argument has one name (WINDOW_ID); a bad window id or
tenant is refused by every command that takes one: one line on stderr, exit 2, before anything is read."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import run


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
              ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """(command words, parser) of every leaf command (one that runs something)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield path, parser
    for group in groups:
        for name, sub in group.choices.items():
            yield from _commands(sub, (*path, name))


def _parser() -> argparse.ArgumentParser:
    from vgos_app.cli import build_parser

    return build_parser()


COMMANDS = {" ".join(words): p for words, p in _commands(_parser())}


def _argv(words: str, parser: argparse.ArgumentParser, tmp: Path, *, window: str = "2025-09-23",
          tenant: str | None = None) -> list[str]:
    """A command line that fills every required argument with a harmless value and the window/tenant given."""
    argv = words.split()
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if a.dest == "window_id":
            argv += ([a.option_strings[0]] if a.option_strings else []) + [window]
        elif a.dest == "tenant" and tenant is not None:
            argv += [a.option_strings[0], tenant]
        elif not a.option_strings and a.nargs != "?":
            argv.append(str(tmp / "input.json"))
        elif a.option_strings and a.required:
            value = a.choices[0] if a.choices else str(tmp / f"{a.dest}.out")
            argv += [a.option_strings[0], str(value)]
    return argv


WINDOW_COMMANDS = sorted(w for w, p in COMMANDS.items() if any(a.dest == "window_id" for a in p._actions))
TENANT_COMMANDS = sorted(w for w, p in COMMANDS.items() if any(a.dest == "tenant" for a in p._actions))


def test_the_walk_finds_the_commands() -> None:
    for words in ("fold", "replay", "acceptance show", "authorize", "payouts show", "recon run", "recon cases",
                  "netsuite sync", "netsuite verify", "batch create", "ledger balance", "audit", "report"):
        assert words in WINDOW_COMMANDS, words
    assert len(TENANT_COMMANDS) >= 15


@pytest.mark.parametrize("words", sorted(COMMANDS))
def test_every_argument_has_help(words: str) -> None:
    parser = COMMANDS[words]
    for a in parser._actions:
        assert a.help and a.help != argparse.SUPPRESS and a.help.strip(), (words, a.option_strings or a.dest)
        if a.dest == "window_id":
            assert a.metavar == "WINDOW_ID", (words, a.metavar)
    text = parser.format_help()
    assert not re.search(r"\bD\b", text.split("options:")[0]), text  # no more `D` for a window


def test_every_command_group_lists_its_actions_with_help() -> None:
    def groups(parser: argparse.ArgumentParser) -> Iterator[argparse._SubParsersAction]:
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                yield a
                for sub in a.choices.values():
                    yield from groups(sub)

    for g in groups(_parser()):
        for choice in g._choices_actions:
            assert choice.help, choice.dest


def _one_line_exit_2(r, needle: str) -> None:
    assert r.returncode == 2, (r.args, r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vgos: error: ") and needle in lines[0], (r.args, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize("words", WINDOW_COMMANDS)
@pytest.mark.parametrize("bad", ["notadate", "2025-02-30", "2025-9-23"])
def test_a_bad_window_id_is_refused_by_every_command(words: str, bad: str, vgos_home: Path, tmp_path: Path
                                                     ) -> None:
    work = tmp_path / "work"
    work.mkdir()
    r = run(*_argv(words, COMMANDS[words], work, window=bad))
    _one_line_exit_2(r, f"window_id {bad!r}")
    assert "no published transcript" not in r.stderr
    assert not any(work.iterdir()) and not (vgos_home / "vgos.db").exists()  # refused before anything ran


@pytest.mark.parametrize("words", TENANT_COMMANDS)
@pytest.mark.parametrize("bad", ["../x", "", "a b"])
def test_a_bad_tenant_is_refused_by_every_command(words: str, bad: str, vgos_home: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    r = run(*_argv(words, COMMANDS[words], work, tenant=bad))
    _one_line_exit_2(r, f"tenant {bad!r}")
    assert not any(work.iterdir()) and not (vgos_home / "vgos.db").exists()


def test_replay_notadate_names_the_window_id_not_a_missing_transcript(vgos_home: Path) -> None:
    r = run("replay", "notadate")
    assert r.returncode == 2 and r.stderr == "vgos: error: window_id 'notadate': expected a close date YYYY-MM-DD\n"


def test_verify_expect_window_is_checked_like_a_window_id(vgos_home: Path, tmp_path: Path) -> None:
    _one_line_exit_2(run("verify", tmp_path, "--expect-window", "2025-02-30"), "--expect-window '2025-02-30'")


def test_usage_errors_are_one_line_too(vgos_home: Path) -> None:
    for argv, needle in ((["replay"], "WINDOW_ID"), (["recon", "run"], "WINDOW_ID"), (["nosuch"], "invalid choice"),
                         (["payouts", "show", "2025-09-23", "--bogus"], "--bogus")):
        r = run(*argv)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
        assert r.stderr.startswith("vgos") and "see `vgos" in r.stderr


def test_an_unrecognized_argument_is_refused_by_the_command_it_was_given_to(vgos_home: Path) -> None:
    for argv, prog in ((["recon", "run", "2025-09-23", "extra"], "vgos recon run"),
                       (["netsuite", "sync", "2025-09-23", "--bogus"], "vgos netsuite sync"),
                       (["demo", "x"], "vgos demo")):
        r = run(*argv)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert r.stderr == f"{prog}: error: unrecognized arguments: {argv[-1]} (see `{prog} --help`)\n"


@pytest.mark.parametrize("words", TENANT_COMMANDS)
def test_the_tenant_option_reads_the_same_everywhere(words: str) -> None:
    [tenant] = [a for a in COMMANDS[words]._actions if a.dest == "tenant"]
    assert tenant.metavar == "TENANT"
    assert "1..64 of A-Z a-z 0-9 . _ -" in tenant.help or words == "netsuite doctor", (words, tenant.help)


def test_empty_answers_say_so_in_one_line(vgos_home: Path) -> None:
    r = run("proof", "ingest")
    assert r.returncode == 0 and r.stdout == f"no proof files in {vgos_home / 'drop'}/proofs/\n", r.stdout
    r = run("payouts", "history", "2025-09-23")
    assert r.returncode == 0 and r.stdout == "window 2025-09-23 (tenant default): no payout transitions\n"
    r = run("payouts", "history", "2025-09-23", "--json")
    assert r.returncode == 0 and '"transitions": []' in r.stdout
