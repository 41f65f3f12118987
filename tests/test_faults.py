"""The fault cases of one place: crashes, concurrent writers, full disks, hostile files.

Each test reproduces one way the tool used to fail (a traceback, two writers in one folder, a
contradiction accepted, a file half-written) and checks the one-line error or the safe outcome.
Faults are injected (an OSError from a write, a lock held by another process) so that the
tests run anywhere without root, a tiny file system or the network.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.models import build_discriminator, build_generator

runner = CliRunner()
# Faults injected through Linux itself: fork, resource limits, /proc.
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="needs fork, RLIMIT_FSIZE and /proc")


def error_lines(result) -> list[str]:
    """The ``Error:`` lines of a CliRunner result (stderr)."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def only_error(result, code: int = 1) -> str:
    """The one ``Error:`` line of a failed command that printed no traceback (exit ``code``:
    1, or 2 for a usage mistake)."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def model_file(tmp_path, tiny_config) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.pt"
    save_checkpoint(Checkpoint(tiny_config, build_generator(tiny_config).state_dict(),
                               build_discriminator(tiny_config).state_dict()), path)
    return path


@pytest.fixture
def face(tmp_path) -> Path:
    path = tmp_path / "in" / "face.png"
    path.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
    return path


def _tiny_video(path: Path) -> Path:
    return _long_video(path, frames=3)


def _long_video(path: Path, frames: int) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (64, 64))
    for _ in range(frames):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    return path


# ---- 2. an unexpected error: one line asking for a report, the traceback only on request ----


def _break_info(monkeypatch) -> None:
    import stargan_cli.paths

    def broken():
        raise ValueError("injected fault")

    monkeypatch.setattr(stargan_cli.paths, "all_dirs", broken)


def test_unexpected_error_is_one_line_asking_for_a_report(monkeypatch):
    _break_info(monkeypatch)
    monkeypatch.delenv("STARGAN_DEBUG", raising=False)
    result = runner.invoke(app, ["info"])
    line = only_error(result)
    assert "ValueError: injected fault" in line and "report" in line and "--debug" in line


@pytest.mark.parametrize("how", ["flag", "env"])
def test_unexpected_error_shows_the_traceback_when_asked(monkeypatch, how):
    _break_info(monkeypatch)
    monkeypatch.delenv("STARGAN_DEBUG", raising=False)
    if how == "env":
        monkeypatch.setenv("STARGAN_DEBUG", "1")
    result = runner.invoke(app, ["--debug", "info"] if how == "flag" else ["info"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "raise ValueError" in result.stderr
    assert len(error_lines(result)) == 1


def test_unexpected_error_in_a_real_process_exits_1_without_traceback(tmp_path):
    script = textwrap.dedent("""
        import sys
        import stargan_cli.paths
        def broken():
            raise KeyError("injected")
        stargan_cli.paths.all_dirs = broken
        from stargan_cli.cli import main
        sys.argv = ["stargan", "info"]
        main()
    """)
    env = {k: v for k, v in os.environ.items() if k != "STARGAN_DEBUG"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: unexpected KeyError"), out.stderr


# ---- 5. contradictory targets are refused everywhere ----------------------------------------


@pytest.mark.parametrize(
    "to, says",
    [
        (["Blond_Hair", "Black_Hair"], "hair colours are exclusive"),
        (["Blond_Hair,Brown_Hair=1"], "hair colours are exclusive"),
        (["Blond_Hair", "Blond_Hair=0"], "Blond_Hair is given twice"),
        (["Male", "male"], "Male is given twice"),
    ],
)
def test_contradictory_targets_are_refused_by_the_parser(to, says):
    from stargan_cli.attributes import DEFAULT_ATTRIBUTES, parse_targets

    with pytest.raises(StarganError, match=says):
        parse_targets(to, DEFAULT_ATTRIBUTES)


def test_compatible_targets_still_pass():
    from stargan_cli.attributes import DEFAULT_ATTRIBUTES, parse_targets

    assert parse_targets(["Blond_Hair", "Black_Hair=0", "Male=0"], DEFAULT_ATTRIBUTES) == {
        "Blond_Hair": 1.0, "Black_Hair": 0.0, "Male": 0.0}


def test_contradictory_targets_are_refused_by_the_api(model_file, face):
    from stargan_cli import Translator

    translator = Translator.from_pretrained(model_file, device="cpu")
    with pytest.raises(StarganError, match="hair colours are exclusive"):
        translator(face, to=["Blond_Hair", "Black_Hair"], source="none")
    with pytest.raises(StarganError, match="given twice"):
        translator(face, to="Blond_Hair,Blond_Hair=0", source="none")


def test_contradictory_targets_are_refused_by_translate(model_file, face, tmp_path):
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(model_file),
                                 "--source-attrs", "none", "--to", "Blond_Hair", "--to", "Black_Hair",
                                 "-o", str(tmp_path / "out")])
    assert "hair colours are exclusive" in only_error(result, 2)
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(model_file),
                                 "--source-attrs", "none", "--to", "Blond_Hair", "--to", "Blond_Hair=0"])
    assert "Blond_Hair is given twice (Blond_Hair and Blond_Hair=0)" in only_error(result, 2)


def test_contradictory_targets_are_refused_by_grid(model_file, face, tmp_path):
    out = tmp_path / "sheet.png"
    for to in ("Blond_Hair+Black_Hair", "Male+Male=0"):
        result = runner.invoke(app, ["grid", str(face), "--no-detect", "-m", str(model_file),
                                     "--source-attrs", "none", "--to", to, "-o", str(out)])
        assert "exclusive" in only_error(result, 2) or "given twice" in only_error(result, 2)
    assert not out.exists()


def test_contradictory_targets_are_refused_by_webcam(model_file, tmp_path):
    video = _tiny_video(tmp_path / "clip.mp4")
    result = runner.invoke(app, ["webcam", "--source", str(video), "--headless", "--model", str(model_file),
                                 "--source-attrs", "none", "--to", "Blond_Hair,Black_Hair"])
    assert "hair colours are exclusive" in only_error(result, 2)


# ---- 8. atomic writes flush a writable handle (Windows refuses to fsync a read-only one) -----


def test_publish_flushes_a_writable_handle(tmp_path, monkeypatch):
    from stargan_cli import fileio

    real_fsync = os.fsync
    flushed = []

    def windows_like_fsync(fd: int) -> None:
        if os.name != "nt":  # on Windows the real call already refuses a read-only handle
            import fcntl

            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
                raise OSError(errno.EBADF, "Bad file descriptor")
        flushed.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", windows_like_fsync)
    target = tmp_path / "a.txt"
    fileio.atomic_write(target, lambda tmp: tmp.write_text("new", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "new" and flushed
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# ---- 6. a checkpoint's stored config is checked before networks are built ------------------


def _tampered(model_file: Path, tmp_path: Path, **changes) -> Path:
    payload = torch.load(model_file, weights_only=True)
    payload["config"].update(changes)
    payload["meta"]["source"] = "/somewhere/else/run"  # what a trainer stores: not the user's file
    path = tmp_path / "tampered.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("changes, says", [
    ({"g_conv_dim": 10**6}, "g_conv_dim 1000000 is outside"),
    ({"image_size": 0}, "image_size 0 is outside"),
    ({"d_repeat": "6"}, "d_repeat '6' is outside"),
    ({"image_size": 42}, "not divisible by 2\\*\\*d_repeat"),
])
def test_impossible_stored_config_is_refused_before_building(model_file, tmp_path, monkeypatch, changes, says):
    from stargan_cli import Translator, models

    real_build = models.build_generator

    def build_only_on_meta(*args, **kwargs):  # building on "meta" allocates nothing
        if torch.empty(0).device.type != "meta":
            raise AssertionError("a network was built from an unchecked config")
        return real_build(*args, **kwargs)

    path = _tampered(model_file, tmp_path, **changes)
    monkeypatch.setattr(models, "build_generator", build_only_on_meta)
    with pytest.raises(StarganError, match=says) as err:
        Translator.from_pretrained(path, device="cpu")
    assert str(path) in str(err.value)


def test_config_that_does_not_fit_the_weights_names_the_file_given(model_file, tmp_path, face):
    path = _tampered(model_file, tmp_path, g_conv_dim=16)
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(path), "--to", "Male",
                                 "--source-attrs", "none"])
    line = only_error(result)
    assert "do not match its config" in line and "main.0.weight has shape [8," in line
    assert str(path) in line and "/somewhere/else/run" not in line


# ---- 1. one training process per run folder -------------------------------------------------

from train_helpers import TINY, make_celeba, one_thread, read_metrics, tiny  # noqa: E402,F401 (one_thread: autouse)

from stargan_cli.training import train  # noqa: E402

_HOLD = "import sys, time; from stargan_cli.locks import Lock; Lock(sys.argv[1], 'x').acquire(); print('held', flush=True); time.sleep(120)"


@pytest.fixture(scope="module")
def celeba(tmp_path_factory) -> Path:
    return make_celeba(tmp_path_factory.mktemp("data") / "celeba")


def _hold_lock(path: Path) -> subprocess.Popen:
    """Another process holding the lock at ``path`` (as a training or download process would)."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_trainer_on_the_same_folder_is_refused_naming_the_holder(celeba, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = _hold_lock(run / ".lock")
    try:
        result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *TINY, "--iters", "2", "-q"])
        line = only_error(result)
        assert f"PID {holder.pid}" in line and str(run) in line
        assert [p.name for p in run.iterdir()] == [".lock"]  # nothing of ours was written
    finally:
        holder.kill()
        holder.wait()


def test_resume_while_another_process_trains_touches_nothing(celeba, tmp_path):
    from stargan_cli.locks import LockHeld

    run = train(tiny(celeba, tmp_path / "run", iters=2))
    in_progress = run / "checkpoints" / ".000004.pt.abc123.tmp"  # the other trainer's write
    in_progress.write_bytes(b"half a checkpoint")
    holder = _hold_lock(run / ".lock")
    try:
        with pytest.raises(LockHeld, match=f"PID {holder.pid}"):
            train(tiny(celeba, run, iters=4, resume=str(run)))
        assert in_progress.read_bytes() == b"half a checkpoint"
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_process_does_not_block(celeba, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    holder = _hold_lock(run / ".lock")
    holder.kill()  # SIGKILL: no clean-up, the lock file stays
    holder.wait()
    assert (run / ".lock").exists()
    assert train(tiny(celeba, run, iters=2)) == run
    assert (run / "final.pt").is_file() and not (run / ".lock").exists()


_HOLD_WITH_WORKER = textwrap.dedent("""
    import multiprocessing, os, signal, sys, time
    from stargan_cli.locks import Lock
    Lock(sys.argv[1], "x").acquire()
    # a data-loader worker: a forked child that lives on after its parent is killed
    worker = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,), daemon=False)
    worker.start()
    print(worker.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


@linux_only
def test_forked_workers_of_a_killed_process_do_not_keep_its_lock(tmp_path):
    from stargan_cli.locks import Lock

    path = tmp_path / "run.lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_WITH_WORKER, str(path)], stdout=subprocess.PIPE, text=True)
    worker = int(holder.stdout.readline())
    assert holder.wait() == -9
    try:
        os.kill(worker, 0)  # the worker is still alive, as data-loader workers are for seconds
        with Lock(path, "run folder"):
            assert path.read_text().strip() == str(os.getpid())
    finally:
        os.kill(worker, 9)


@linux_only
def test_a_forked_child_cannot_release_or_hold_the_parents_lock(tmp_path):
    from stargan_cli.locks import Lock, LockHeld

    path = tmp_path / "a.lock"
    with Lock(path, "thing A") as lock:
        pid = os.fork()
        if pid == 0:  # the child: it holds nothing, so releasing does not delete the parent's file
            lock.release()
            os._exit(0 if path.exists() and not lock.held else 1)
        assert os.waitpid(pid, 0)[1] == 0
        with pytest.raises(LockHeld):  # still ours
            Lock(path, "thing A").acquire()


def test_two_locks_on_one_file_exclude_each_other(tmp_path):
    from stargan_cli.locks import Lock, LockHeld

    with Lock(tmp_path / "a.lock", "thing A"):
        with pytest.raises(LockHeld, match=f"thing A is in use by another stargan process \\(PID {os.getpid()}\\)"):
            Lock(tmp_path / "a.lock", "thing A").acquire()
    with Lock(tmp_path / "a.lock", "thing A"):  # released: free again
        pass


class _FakeMsvcrt:
    """Windows' ``msvcrt.locking`` byte-range locks, modelled on POSIX: a locked byte belongs to
    the descriptor that locked it while that descriptor is open."""

    LK_NBLCK = 2

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], int] = {}
        self.calls: list[tuple[int, int, int]] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        offset = os.lseek(fd, 0, os.SEEK_CUR)
        self.calls.append((offset, mode, nbytes))
        key = (os.fstat(fd).st_ino, offset)
        holder = self.held.get(key)
        if holder is not None and holder != fd and _is_open(holder, key[0]):
            raise OSError(errno.EACCES, "Permission denied")  # what msvcrt raises for LK_NBLCK
        self.held[key] = fd


def _is_open(fd: int, inode: int) -> bool:
    try:
        return os.fstat(fd).st_ino == inode
    except OSError:
        return False


def test_windows_lock_branch_locks_one_byte_past_the_pid(tmp_path, monkeypatch):
    import stargan_cli.locks as locks

    fake = _FakeMsvcrt()
    monkeypatch.setitem(sys.modules, "msvcrt", fake)
    monkeypatch.setattr(locks, "_try_lock", locks._try_lock_windows)
    with locks.Lock(tmp_path / "a.lock", "thing A"):
        # the PID stays readable to others (the locked byte is far past it) and is named
        with pytest.raises(locks.LockHeld, match=f"\\(PID {os.getpid()}\\)"):
            locks.Lock(tmp_path / "a.lock", "thing A").acquire()
    assert fake.calls and all(call == (locks._WINDOWS_LOCK_OFFSET, fake.LK_NBLCK, 1) for call in fake.calls)
    assert not (tmp_path / "a.lock").exists()
    with locks.Lock(tmp_path / "a.lock", "thing A"):  # released: free again
        pass


def test_failed_start_leaves_no_run_folder(tmp_path):
    run = tmp_path / "run"
    with pytest.raises(StarganError):
        train(tiny(tmp_path / "no-data", run, iters=2))
    assert not run.exists()


# ---- 7. a run killed during its first checkpoint; an unreadable newest checkpoint ----------


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs."""


def test_run_killed_during_its_first_checkpoint_write_can_be_resumed(celeba, tmp_path, monkeypatch):
    from stargan_cli.training import resume_config, state

    def killed_while_saving(checkpoint, path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        (Path(path).parent / f".{Path(path).name}.x1y2.tmp").write_bytes(b"half")  # what a kill leaves
        raise _Killed

    run = tmp_path / "run"
    monkeypatch.setattr(state, "save_checkpoint", killed_while_saving)
    with pytest.raises(_Killed):
        train(tiny(celeba, run, iters=4))
    monkeypatch.undo()
    assert (run / "config.json").is_file() and list((run / "checkpoints").glob(".*.tmp"))

    result = runner.invoke(app, ["train", "--out", str(run), "--data", str(celeba)])
    assert "--resume" in only_error(result)
    assert train(resume_config(run)) == run
    assert not list((run / "checkpoints").glob(".*.tmp")) and (run / "final.pt").is_file()
    assert [m["step"] for m in read_metrics(run)] == [2, 4]  # the first attempt's lines are gone


def test_unreadable_newest_checkpoint_is_skipped_with_a_warning(celeba, tmp_path):
    from stargan_cli.training import resume_config

    run = train(tiny(celeba, tmp_path / "run", iters=4))
    (run / "checkpoints" / "000004.pt").write_bytes(b"\0" * 100)
    result = runner.invoke(app, ["train", "--resume", str(run), "--iters", "6", "-q", "--num-workers", "0"])
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "skipping 000004.pt" in result.output
    assert "from 000002.pt (step 2)" in result.output


# ---- 3. a full disk (or a refused write) is one line naming the file ------------------------


from full_disk import full_when as _full_when  # noqa: E402


def test_full_disk_while_saving_a_checkpoint_keeps_the_last_good_one(celeba, tmp_path, monkeypatch):
    from stargan_cli import checkpoints
    from stargan_cli.loading import load_checkpoint

    run = tmp_path / "run"
    _full_when(checkpoints, lambda p: p.name.startswith(".000004.pt."), monkeypatch)
    result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *TINY, "--iters", "4",
                                 "--save-every", "2", "-q"])
    line = only_error(result)
    assert line == f"Error: no space left on device while writing {run / 'checkpoints' / '000004.pt'}: " \
                   "free some space or choose another folder"
    assert load_checkpoint(run / "checkpoints" / "000002.pt").step == 2
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["000002.pt"]  # no .tmp left
    assert not (run / ".lock").exists()


def test_full_disk_while_logging_metrics(celeba, tmp_path, monkeypatch):
    from stargan_cli.training import report

    run = tmp_path / "run"
    _full_when(report, lambda p: p.name == "metrics.jsonl", monkeypatch)
    result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *TINY, "--iters", "2", "-q"])
    assert f"no space left on device while writing {run / 'metrics.jsonl'}" in only_error(result)


def test_full_disk_under_tensorboard_is_one_line(celeba, tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    from tensorboard.summary.writer import record_writer

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(record_writer.RecordWriter, "write", full)
    run = tmp_path / "run"
    args = [a for a in TINY if a != "--no-tensorboard"]
    result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *args, "--iters", "4", "-q"])
    assert f"no space left on device while writing {run / 'tensorboard'}" in only_error(result)
    assert "Exception in thread" not in result.output


@pytest.mark.parametrize("code, says", [(errno.ENOSPC, "no space left on device"),
                                        (errno.EACCES, "permission denied"),
                                        (errno.EROFS, "read-only file system")])
def test_translate_stops_at_the_first_output_it_cannot_write(model_file, face, tmp_path, monkeypatch, code, says):
    second = face.with_name("face2.png")
    second.write_bytes(face.read_bytes())

    def refused(self, fp, *args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Image.Image, "save", refused)
    out = tmp_path / "out"
    result = runner.invoke(app, ["translate", str(face), str(second), "--no-detect", "-m", str(model_file),
                                 "--source-attrs", "none", "--to", "Male", "-o", str(out)])
    line = only_error(result)
    assert line.startswith(f"Error: {says} while writing {out}")
    assert not [p for p in out.rglob("*") if p.is_file()]


def _with_file_size_limit(limit: int) -> Callable[[], None]:
    """A ``preexec_fn`` that caps the files a process writes at ``limit`` bytes: a write that
    crosses it is cut short and the next one fails (EFBIG), as on a disk that fills up, a
    fault that reaches C code writing to a descriptor, which no monkeypatch can."""
    import resource
    import signal

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an error instead of the signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def _stargan(args: list[str], limit: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stargan_cli", *args], capture_output=True, text=True,
                          preexec_fn=_with_file_size_limit(limit), timeout=300)


@linux_only
@pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".png", ".webp"])
def test_an_image_cut_short_by_a_full_disk_is_never_published(model_file, tmp_path, suffix):
    big = tmp_path / "big.png"  # a photo whose output is far larger than the limit
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(big)
    out = tmp_path / "out" / f"face{suffix}"
    out.parent.mkdir()
    done = _stargan(["translate", str(big), "--no-detect", "-m", str(model_file),
                     "--source-attrs", "none", "--to", "Male", "-o", str(out)], limit=600)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"while writing {out}" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert list(out.parent.iterdir()) == []


@linux_only
def test_a_sample_jpeg_cut_short_by_a_full_disk_is_never_published(celeba, tmp_path):
    run = tmp_path / "run"
    done = _stargan(["train", "--data", str(celeba), "--out", str(run), *TINY, "--iters", "2",
                     "--sample-every", "1", "--save-every", "100", "--no-cache", "-q"], limit=6000)
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"while writing {run / 'samples' / '000001.jpg'}" in errors[0], done.stderr
    assert list((run / "samples").iterdir()) == []


def test_grid_on_a_full_disk_is_one_line(model_file, face, tmp_path, monkeypatch):
    def full(self, fp, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    out = tmp_path / "sheet.png"
    result = runner.invoke(app, ["grid", str(face), "--no-detect", "-m", str(model_file), "--source-attrs", "none",
                                 "-o", str(out)])
    assert only_error(result).startswith(f"Error: no space left on device while writing {out}")
    assert list(tmp_path.glob("*sheet*")) == []


def test_webcam_recording_into_a_read_only_folder_is_one_line(model_file, tmp_path, monkeypatch):
    import tempfile

    video = _tiny_video(tmp_path / "clip.mp4")
    out = tmp_path / "rec" / "out.mp4"

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = runner.invoke(app, ["webcam", "--source", str(video), "--headless", "--model", str(model_file),
                                 "--source-attrs", "none", "--to", "Young", "--output", str(out)])
    assert only_error(result).startswith(f"Error: read-only file system while writing {out}")


def _free_bytes(monkeypatch, free: Callable[[], int]) -> None:
    """Make the webcam recorder see ``free()`` bytes free on every disk."""
    import shutil

    import stargan_cli.webcam.recording as recording

    def usage(path):
        return shutil._ntuple_diskusage(1 << 40, (1 << 40) - free(), free())

    monkeypatch.setattr(recording.shutil, "disk_usage", usage)


def _record(model_file: Path, video: Path, out: Path):
    return runner.invoke(app, ["webcam", "--source", str(video), "--headless", "--model", str(model_file),
                               "--source-attrs", "none", "--to", "Young", "--output", str(out)])


class _Writer:
    """A stand-in for ``cv2.VideoWriter`` around a real one; ``drop`` makes it lose every frame
    silently, as OpenCV's writer does when a frame cannot be written."""

    def __init__(self, *args, drop: bool = False) -> None:
        self._real = _REAL_WRITER(*args)
        self.drop = drop
        self.writes = 0
        self.released = False

    def isOpened(self) -> bool:
        return self._real.isOpened()

    def write(self, frame) -> None:
        self.writes += 1
        if not self.drop:
            self._real.write(frame)

    def release(self) -> None:
        self.released = True
        self._real.release()


_REAL_WRITER = cv2.VideoWriter


def _use_writer(monkeypatch, drop: bool) -> list[_Writer]:
    made: list[_Writer] = []
    monkeypatch.setattr(cv2, "VideoWriter", lambda *args: made.append(_Writer(*args, drop=drop)) or made[-1])
    return made


def test_webcam_recording_stops_when_the_disk_fills_up(model_file, tmp_path, monkeypatch):
    # OpenCV's writer only logs a warning and drops frames when the disk is full: the recorder
    # must notice by itself, stop, and leave no broken video behind.
    video = _long_video(tmp_path / "clip.mp4", frames=30)
    out = tmp_path / "rec" / "out.mp4"
    out.parent.mkdir()
    made = _use_writer(monkeypatch, drop=False)
    _free_bytes(monkeypatch, lambda: 0 if made and made[0].writes >= 12 else 1 << 40)
    result = _record(model_file, video, out)
    assert only_error(result).startswith(f"Error: no space left on device while writing {out}")
    assert 12 <= made[0].writes < 30  # stopped soon instead of recording into nothing
    assert list(out.parent.iterdir()) == []


def test_webcam_recording_that_comes_out_incomplete_is_one_line(model_file, tmp_path, monkeypatch):
    video = _long_video(tmp_path / "clip.mp4", frames=8)
    out = tmp_path / "rec" / "out.mp4"
    out.parent.mkdir()
    made = _use_writer(monkeypatch, drop=True)
    result = _record(model_file, video, out)
    assert only_error(result).startswith(f"Error: OpenCV could not write a complete video to {out}")
    assert list(out.parent.iterdir()) == []
    # the same failure on a disk that filled up at the end names the cause
    made.clear()
    _free_bytes(monkeypatch, lambda: 0 if made and made[0].released else 1 << 40)
    result = _record(model_file, video, out)
    assert only_error(result).startswith(f"Error: no space left on device while writing {out}")
    assert list(out.parent.iterdir()) == []


def test_any_unnamed_full_disk_error_is_still_one_line(monkeypatch):
    import stargan_cli.paths

    def full():
        raise OSError(errno.ENOSPC, "No space left on device", "/some/file")

    monkeypatch.setattr(stargan_cli.paths, "all_dirs", full)
    assert only_error(runner.invoke(app, ["info"])).startswith(
        "Error: no space left on device while writing /some/file")


# ---- 4. one download per asset at a time; a resumed download never splices two files -------

import http.server  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402


class _VersionedFile(http.server.BaseHTTPRequestHandler):
    """Serves ``server.file`` with an ETag, honouring Range only while If-Range (when sent)
    still names the current version, as HTTP says. ``server.cut_then`` (bytes): send half of
    the file, drop the connection, then serve those bytes as the new version. ``server.slow``
    spreads the body over a fraction of a second."""

    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.requests.append(dict(self.headers))
        data, etag = srv.file, srv.etag
        start, wanted, if_range = 0, self.headers.get("Range"), self.headers.get("If-Range")
        if wanted and (if_range is None or if_range == etag):
            start = int(wanted.split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if srv.cut_then is not None:
            self.wfile.write(body[: len(body) // 2])
            srv.file, srv.etag, srv.cut_then = srv.cut_then, '"v2"', None
            self.close_connection = True
            return
        for i in range(0, len(body), 8192):
            self.wfile.write(body[i:i + 8192])
            if srv.slow:
                time.sleep(0.02)


@pytest.fixture
def versioned(monkeypatch):
    monkeypatch.delenv("STARGAN_OFFLINE", raising=False)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionedFile)
    httpd.file, httpd.etag, httpd.cut_then, httpd.slow, httpd.requests = b"", '"v1"', None, False, []
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/model.pth"


def _serve_as_inception(httpd, data: bytes, monkeypatch) -> None:
    """Make the registered asset ``inception`` the file ``httpd`` serves (``data``)."""
    import dataclasses

    from stargan_cli import registry

    httpd.file = data
    asset = dataclasses.replace(registry.ASSETS["inception"], urls=(_url(httpd),), size=len(data),
                                sha256=None, filename="inception-test.pth")
    monkeypatch.setitem(registry.ASSETS, "inception", asset)


def test_resume_sends_if_range_so_a_changed_file_is_not_spliced(versioned, tmp_path):
    from stargan_cli import download

    old, new = os.urandom(100_000), os.urandom(100_000)
    versioned.file, versioned.cut_then = old, new  # cut half way, then the file changes
    policy = download.RetryPolicy(attempts=3, timeout=5, sleep=lambda s: None)
    got = download.fetch([_url(versioned)], tmp_path / "model.pth", name="m", quiet=True, policy=policy)
    assert got.read_bytes() == new
    assert versioned.requests[1].get("Range") == "bytes=50000-" and versioned.requests[1].get("If-Range") == '"v1"'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pth"]  # no .part, no validator


def test_two_installs_of_one_asset_download_it_once(versioned, monkeypatch):
    from stargan_cli import download

    data = os.urandom(300_000)
    versioned.slow = True
    _serve_as_inception(versioned, data, monkeypatch)
    results, errors = [], []

    def install():
        try:
            results.append(download.install("inception", quiet=True))
        except BaseException as err:  # noqa: BLE001 (reported below)
            errors.append(err)

    threads = [threading.Thread(target=install) for _ in range(2)]
    for thread in threads:
        thread.start()
        time.sleep(0.1)
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len(versioned.requests) == 1  # the second waited, then found it installed
    assert sorted(r.already for r in results) == [False, True]
    assert results[0].paths[0].read_bytes() == data


def test_install_waits_for_another_process_and_says_so(versioned, monkeypatch, capfd):
    from stargan_cli import download, paths

    data = os.urandom(10_000)
    _serve_as_inception(versioned, data, monkeypatch)
    holder = _hold_lock(paths.downloads_dir() / "inception-test.pth.lock")
    threading.Timer(1.0, holder.kill).start()
    started = time.monotonic()
    result = download.install("inception")
    holder.wait()
    assert time.monotonic() - started >= 0.9 and result.paths[0].read_bytes() == data
    assert f"Waiting for another stargan process (PID {holder.pid}) that is installing inception" in capfd.readouterr().err


def test_full_disk_while_downloading_is_one_line(versioned, tmp_path, monkeypatch):
    from stargan_cli import download, transfer

    versioned.file = os.urandom(10_000)
    _full_when(transfer, lambda p: p.suffix == ".part", monkeypatch)
    with pytest.raises(StarganError, match="no space left on device while writing .*model.pth.part"):
        download.fetch([_url(versioned)], tmp_path / "model.pth", name="m", quiet=True)


# ---- 7. archives: a compression-ratio limit; attribute files: UTF-16 --------------------------


def test_archive_bomb_by_compression_ratio_is_refused(tmp_path, monkeypatch):
    import zipfile

    from stargan_cli import archive

    monkeypatch.setattr(archive, "RATIO_FREE_BYTES", 1024**2)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(8 * 1024**2))  # 8 MiB in about 8 KB
    with pytest.raises(StarganError, match="more than 100 times its own size"):
        archive.safe_extract(bomb, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.zip"]


def test_utf16_attribute_file_is_read_or_named(tmp_path):
    from stargan_cli.attributes import CELEBA_ATTRIBUTES
    from stargan_cli.data.celeba import parse_attribute_file

    text = "1\r\n" + " ".join(CELEBA_ATTRIBUTES) + "\r\n000001.jpg " + " ".join(["1"] * 40) + "\r\n"
    with_bom = tmp_path / "with_bom.txt"
    with_bom.write_text(text, encoding="utf-16")
    assert parse_attribute_file(with_bom).files == ["000001.jpg"]
    without_bom = tmp_path / "without_bom.txt"
    without_bom.write_bytes(text.encode("utf-16-le"))
    with pytest.raises(StarganError, match="not a UTF-8 text file .*UTF-16.*save it as UTF-8"):
        parse_attribute_file(without_bom)


# ---- 8. the smaller ones of the second round -------------------------------------------------


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_checkpoint_with_non_finite_weights_is_refused_naming_the_tensor(tmp_path, tiny_config, face, bad):
    G = build_generator(tiny_config).state_dict()
    G["main.0.weight"][0, 0, 0, 0] = bad
    path = tmp_path / "diverged.pt"
    save_checkpoint(Checkpoint(tiny_config, G, build_discriminator(tiny_config).state_dict()), path)
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(path), "--source-attrs", "none",
                                 "--to", "Male", "-o", str(tmp_path / "out.png")])
    line = only_error(result)
    assert "generator weight main.0.weight" in line and "NaN or infinite" in line and str(path) in line
    assert not (tmp_path / "out.png").exists()


def test_grid_refuses_two_hair_colours_in_source_attrs_like_translate(model_file, face, tmp_path):
    args = [str(face), "--no-detect", "-m", str(model_file), "--source-attrs", "Black_Hair,Brown_Hair"]
    grid = only_error(runner.invoke(app, ["grid", *args, "-o", str(tmp_path / "sheet.png")]), code=2)
    translate = only_error(runner.invoke(app, ["translate", *args, "--to", "Male", "-o", str(tmp_path / "o.png")]),
                           code=2)
    assert grid == translate and "hair colours are exclusive" in grid
    assert not (tmp_path / "sheet.png").exists()


def test_a_target_with_an_empty_value_is_a_usage_error(model_file, face, tmp_path):
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(model_file), "--source-attrs",
                                 "none", "--to", "Blond_Hair=", "-o", str(tmp_path / "o.png")])
    assert "bad target 'Blond_Hair='" in only_error(result, code=2)
    assert not (tmp_path / "o.png").exists()


def test_output_below_a_file_says_the_parent_is_a_file(model_file, face, tmp_path):
    blocker = tmp_path / "afile.txt"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(model_file), "--source-attrs",
                                 "none", "--to", "Male", "-o", str(blocker / "x.png")])
    assert only_error(result) == f"Error: -o {blocker / 'x.png'}: {blocker} is a file, not a folder; choose another path"


@linux_only
def test_a_completely_full_disk_at_the_run_lock_names_the_lock_file(celeba, tmp_path, monkeypatch):
    from stargan_cli import locks

    real_write = os.write

    def write(fd, data):  # the lock file's PID is the first byte written to a full disk
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".lock"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(locks.os, "write", write)
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *TINY, "--iters", "2", "-q"])
    assert only_error(result).startswith(f"Error: no space left on device while writing {run / '.lock'}")
    assert not run.exists()


@pytest.mark.parametrize("flag, value, says", [
    ("--g-conv-dim", "1000000", "--g-conv-dim must be at most 4,096"),
    ("--image-size", "1048576", "--image-size must be at most 4,096"),
    ("--g-repeat", "10000", "--g-repeat must be at most 64"),
    ("--batch-size", "1000000", "--batch-size must be at most 4,096"),
])
def test_absurd_training_sizes_are_usage_errors(celeba, tmp_path, flag, value, says):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *TINY, flag, value, "-q"])
    assert says in only_error(result, code=2)
    assert not run.exists()


def test_training_that_would_not_fit_in_memory_is_refused_before_allocating(celeba, tmp_path, monkeypatch):
    from stargan_cli import memory

    monkeypatch.setattr(memory, "machine_memory", lambda: 4 * 2**20)  # a 4 MB machine
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(celeba), "--out", str(run), *TINY, "--iters", "2", "-q"])
    line = only_error(result)
    assert "would need about" in line and "more than the 0.00391 GB this machine has" in line
    assert "lower --image-size" in line
    assert not run.exists()


@pytest.mark.parametrize("flag, value", [("--cell-size", "100000"), ("--padding", "1000000"),
                                         ("--font-size", "100000"), ("--frames", "100000")])
def test_absurd_grid_sizes_are_usage_errors(model_file, face, tmp_path, flag, value):
    result = runner.invoke(app, ["grid", str(face), "--no-detect", "-m", str(model_file), "--source-attrs", "none",
                                 flag, value, "-o", str(tmp_path / "sheet.png")])
    only_error(result, code=2)
    assert not (tmp_path / "sheet.png").exists()


def test_a_sheet_that_would_not_fit_in_memory_is_refused_before_translating(model_file, face, tmp_path, monkeypatch):
    from stargan_cli import memory
    from stargan_cli.grid import sheet

    monkeypatch.setattr(memory, "machine_memory", lambda: 64 * 2**20)  # a 64 MB machine
    monkeypatch.setattr(sheet, "translate_cells", lambda *a, **k: pytest.fail("translated before the check"))
    result = runner.invoke(app, ["grid", str(face), "--no-detect", "-m", str(model_file), "--source-attrs", "none",
                                 "--cell-size", "2048", "-o", str(tmp_path / "sheet.png")])
    line = only_error(result)
    assert "sheet would need about" in line and "smaller --cell-size" in line
    assert not (tmp_path / "sheet.png").exists()
