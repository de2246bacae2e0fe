"""`vgos fold --out` never destroys anything but an earlier fold output; empty windows; one line for every error.

In-process through `vgos_app.cli.main` (cheap); the subprocess matrix is in test_bad_input_cli.py.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

import vgos.outputs
import vgos_app.cli
from vgos.errors import InputError
from vgos.fold import fold_files
from vgos.outputs import MARKER, write_fold_outputs
from vgos.policy import load_policy
from vgos_app.cli import main
from vgos_app.demo import seed_events_path

W = "2025-09-23"


def ev(i: int, **kw: object) -> dict:
    return {"event_id": f"e{i}", "ts_occurred": "2025-09-23T12:00:00Z", "principal_id": "P", "amount_minor": 100,
            "source_type": "earning", **kw}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def fold(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["fold", "--window-id", W, *args])
    err = capsys.readouterr().err
    assert err.count("\n") <= 1 and "Traceback" not in err, err
    return code, err


def no_temp_left(*folders: Path) -> None:
    for folder in folders:
        assert not [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != MARKER], folder


@pytest.fixture
def events(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    p = d / "ev.jsonl"
    p.write_bytes(b"".join(orjson.dumps(ev(i)) + b"\n" for i in range(3)))
    return p


def test_out_replaces_a_previous_fold_output_and_nothing_else(vgos_home: Path, tmp_path: Path, events: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "o" / "w"
    assert fold(capsys, "--events", str(events), "--out", str(out))[0] == 0
    assert orjson.loads((out / MARKER).read_bytes())["window_id"] == W
    (out / "stale.txt").write_text("from an older fold")
    assert fold(capsys, "--events", str(events), "--out", str(out))[0] == 0  # a fold output: replaced whole
    assert not (out / "stale.txt").exists() and (out / "seal.json").exists()
    no_temp_left(out.parent)

    notes = tmp_path / "o" / "notes"
    notes.mkdir()
    (notes / "keep.txt").write_text("mine")
    code, err = fold(capsys, "--events", str(events), "--out", str(notes))
    assert code == 2 and "not empty and not an earlier fold output" in err
    assert (notes / "keep.txt").read_text() == "mine"

    empty = tmp_path / "o" / "empty"
    empty.mkdir()
    assert fold(capsys, "--events", str(events), "--out", str(empty))[0] == 0

    a_file = tmp_path / "o" / "file"
    a_file.write_text("x")
    code, err = fold(capsys, "--events", str(events), "--out", str(a_file))
    assert code == 2 and "not a folder" in err and a_file.read_text() == "x"
    no_temp_left(tmp_path / "o")


@pytest.mark.parametrize("where", ["inputs-folder", "input-file", "input-below", "cwd", "home", "home-link",
                                   "home-parent", "artifacts", "drop", "signing-key", "database"])
def test_out_never_contains_an_input_or_the_embedded_state(vgos_home: Path, tmp_path: Path, events: Path,
                                                            where: str, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (vgos_home / "keys").mkdir()
    (vgos_home / "keys" / "ed25519.pem").write_text("precious")
    elsewhere = tmp_path / "state"
    elsewhere.mkdir()
    if where == "input-below":  # an earlier fold output that now holds an input: still refused
        out = tmp_path / "w"
        (out / "sub").mkdir(parents=True)
        (out / MARKER).write_text("{}")
        events = events.rename(out / "sub" / "ev.jsonl")
    else:
        out = {"inputs-folder": events.parent, "input-file": events, "cwd": Path("."), "home": vgos_home,
               "home-parent": vgos_home.parent, "artifacts": elsewhere, "drop": elsewhere,
               "signing-key": elsewhere, "database": elsewhere, "home-link": tmp_path / "link"}[where]
    if where == "cwd":
        monkeypatch.chdir(events.parent)
    if where == "home-link":
        out.symlink_to(vgos_home)
    if where == "artifacts":
        monkeypatch.setenv("VGOS_ARTIFACTS", str(elsewhere / "artifacts"))
    if where == "drop":
        monkeypatch.setenv("VGOS_DROP_ZONE", str(elsewhere / "a" / "drop"))
    if where == "signing-key":
        monkeypatch.setenv("VGOS_SIGNING_KEY", str(elsewhere / "k.pem"))
    if where == "database":
        monkeypatch.setenv("VGOS_DATABASE_URL", f"sqlite:///{elsewhere / 'db' / 'v.db'}")
    watched = out.resolve() if out.resolve().is_dir() else out.resolve().parent
    before = snapshot(watched)
    code, err = fold(capsys, "--events", str(events), "--out", str(out))
    assert code == 2 and err.startswith("vgos: error: --out ") and "contains" in err, err
    assert snapshot(watched) == before
    assert (vgos_home / "keys" / "ed25519.pem").read_text() == "precious"


def test_unwritable_out_location_is_one_line(vgos_home: Path, events: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, err = fold(capsys, "--events", str(events), "--out", "/proc/nope")
    assert code == 2 and err.startswith("vgos: error: --out /proc/nope: cannot create the output folder")


def test_temp_folder_is_removed_on_errors_and_interrupts(vgos_home: Path, tmp_path: Path) -> None:
    result = fold_files([seed_events_path()], W, load_policy())
    out = tmp_path / "w"
    write_fold_outputs(result, out)
    before = snapshot(out)

    for exc in (RuntimeError("disk trouble"), KeyboardInterrupt()):
        def boom(folder: Path, exc: BaseException = exc) -> None:
            (folder / "partial").write_text("half")
            raise exc

        with pytest.raises(type(exc)):
            write_fold_outputs(result, out, boom)
        assert snapshot(out) == before
        no_temp_left(tmp_path)


def test_files_and_folders_are_fsynced_before_the_swap(vgos_home: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    swapped: list[set[str]] = []
    real_swap = vgos.outputs._swap_in

    def swap(tmp: Path, out: Path, aside: Path) -> None:
        written = {str(p) for p in tmp.rglob("*")} | {str(tmp)}
        assert written <= set(synced), sorted(written - set(synced))
        swapped.append(written)
        real_swap(tmp, out, aside)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(vgos.outputs, "_swap_in", swap)
    result = fold_files([seed_events_path()], W, load_policy())
    write_fold_outputs(result, tmp_path / "w", lambda d: (d / "transcript").mkdir() or (d / "transcript" / "x")
                       .write_text("x"))
    assert swapped and any(s.endswith("/transcript/x") for s in swapped[0])
    assert str(tmp_path) in synced  # the parent folder, after the rename


@pytest.mark.parametrize("exchange", [True, False])
def test_replacing_leaves_no_old_folder(vgos_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        exchange: bool) -> None:
    if not exchange:  # a file system without renameat2 RENAME_EXCHANGE: rename aside, then remove
        monkeypatch.setattr(vgos.outputs, "_exchange", lambda a, b: False)
    result = fold_files([seed_events_path()], W, load_policy())
    out = tmp_path / "w"
    write_fold_outputs(result, out)
    (out / "old-marker").write_text("x")
    write_fold_outputs(result, out)
    assert not (out / "old-marker").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "vgos_home" and p.name != "dagster_home") == ["w"]


def test_check_refuses_again_right_before_the_swap(vgos_home: Path, tmp_path: Path) -> None:
    result = fold_files([seed_events_path()], W, load_policy())
    out = tmp_path / "w"

    def meanwhile(_: Path) -> None:  # someone fills the (absent) folder while the outputs are written
        out.mkdir()
        (out / "theirs.txt").write_text("x")

    with pytest.raises(InputError, match="not an earlier fold output"):
        write_fold_outputs(result, out, meanwhile)
    assert snapshot(out) == {"theirs.txt": b"x"}
    no_temp_left(tmp_path)


# ------------------------------------------------------------------------------------- empty windows


@pytest.mark.parametrize("content", [b"", b"\n"])
def test_empty_or_all_rejected_window_needs_allow_empty(vgos_home: Path, tmp_path: Path, content: bytes,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(content)
    rejected = tmp_path / "late.jsonl"
    rejected.write_bytes(orjson.dumps(ev(1, ts_occurred="2025-09-24T12:00:00Z")) + b"\n{broken\n")
    out = tmp_path / "w"
    code, err = fold(capsys, "--events", str(empty), "--out", str(out))
    assert code == 1 and "kept no events: the input files hold no records" in err and "--allow-empty" in err
    code, err = fold(capsys, "--events", str(rejected), "--out", str(out))
    assert code == 1 and "all 2 records rejected (AFTER_CUTOFF 1, SCHEMA_INVALID 1; first: " in err
    assert "late.jsonl:1 AFTER_CUTOFF" in err
    assert not out.exists()
    no_temp_left(tmp_path)
    code, _ = fold(capsys, "--events", str(rejected), "--out", str(out), "--allow-empty")
    assert code == 0
    assert orjson.loads((out / "seal.json").read_bytes())["totals"]["events_kept"] == 0


# ------------------------------------------------------------------------------------- one line, never a traceback


def test_unexpected_exception_is_one_line_with_a_private_log(vgos_home: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(args: object) -> int:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(vgos_app.cli, "cmd_fold", crash)
    code = main(["fold", "--events", "x.jsonl", "--window-id", W, "--out", "o"])
    err = capsys.readouterr().err
    assert code == 3 and err.count("\n") == 1
    assert err.startswith("vgos: internal error: RuntimeError: boom (details: ")
    log = Path(err.rsplit("(details: ", 1)[1].rstrip(")\n"))
    assert log.parent == vgos_home / "logs"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700
    assert "Traceback" in log.read_text() and "second line" in log.read_text()


def test_os_errors_are_one_line_naming_the_path(vgos_home: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(args: object) -> int:
        raise IsADirectoryError(21, "Is a directory", "/some/where")

    monkeypatch.setattr(vgos_app.cli, "cmd_fold", gone)
    assert main(["fold", "--events", "x.jsonl", "--window-id", W, "--out", "o"]) == 2
    assert capsys.readouterr().err == "vgos: error: /some/where: Is a directory\n"


def test_configuration_errors_exit_2(vgos_home: Path, tmp_path: Path, events: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    (vgos_home / "keys").mkdir()
    (vgos_home / "keys" / "ed25519.pem").write_text("not a key")
    code, err = fold(capsys, "--events", str(events), "--out", str(tmp_path / "w"))
    assert code == 2 and "ed25519.pem" in err
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("name,data,args,match", [
    ("ev.parquet", b"PK\x03\x04" + b"\x00" * 40, [], "cannot read Parquet"),
    ("ev.png", b"\x89PNG\r\n", [], "unknown event file type '.png'"),
    ("ev.json", b"[" * 3000, [], "nested deeper than 64 levels"),
    ("ev.json", b'[{"event_id": 1}, oops]', [], "line 1: not a JSON array of events"),
    ("ev.csv", "a,b\n1,2\n".encode("utf-16-le"), [], "NUL byte"),
    ("ev.jsonl", b"{}", ["--tenant", ""], "tenant ''"),
    ("ev.jsonl", b"{}", ["--tenant", "a\nb"], "tenant 'a\\nb'"),
    ("ev.jsonl", b"{}", ["--window-id", "2025-13-01"], "window_id '2025-13-01'"),
    ("ev.jsonl", b"{}", ["--window-id", "2025-09-23\n"], "window_id"),
])
def test_bad_inputs_in_process(vgos_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                               data: bytes, args: list[str], match: str) -> None:
    (tmp_path / name).write_bytes(data)
    code = main(["fold", "--window-id", W, "--events", str(tmp_path / name), "--out", str(tmp_path / "w"), *args])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("vgos: error: ") and match in err, err
    assert not (tmp_path / "w").exists()
    no_temp_left(tmp_path)


def test_out_never_replaces_a_folder_holding_the_policy_or_the_trust_file(vgos_home, tmp_path, capsys,
                                                                          monkeypatch) -> None:
    out = tmp_path / "o"
    code, _ = fold(capsys, "--events", str(seed_events_path()), "--window-id", "2025-09-23", "--out", str(out))
    assert code == 0
    (out / "policy.yaml").write_text("policy_version: v9\n")
    code, err = fold(capsys, "--events", str(seed_events_path()), "--window-id", "2025-09-23", "--policy",
                     str(out / "policy.yaml"), "--out", str(out))
    assert code == 2 and "the policy" in err and (out / "policy.yaml").exists()
    (out / "policy.yaml").unlink()
    (out / "trusted_keys.json").write_text('{"keys": []}')
    monkeypatch.setenv("VGOS_TRUSTED_KEYS", str(out / "trusted_keys.json"))
    code, err = fold(capsys, "--events", str(seed_events_path()), "--window-id", "2025-09-23", "--out", str(out))
    assert code == 2 and "the trust file" in err and (out / "trusted_keys.json").exists()
