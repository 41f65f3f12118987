"""`stargan download`: fetch (resume, retries, HTML, checksums), safe extraction, install and
conversion, the CLI. A local http.server on 127.0.0.1 plays the remote host."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import os
import re
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stargan_cli import archive, download, paths, registry, transfer
from stargan_cli.errors import StarganError

OFFICIAL = "stargan-celeba-128"


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Each test gets STARGAN_HOME=tmp_path/home, network allowed, and retries without waiting."""
    root = tmp_path / "home"
    monkeypatch.setenv("STARGAN_HOME", str(root))
    monkeypatch.delenv("STARGAN_OFFLINE", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(
        transfer, "DEFAULT_POLICY",
        download.RetryPolicy(attempts=3, timeout=5, backoff=0.5, sleep=lambda seconds: None),
    )
    return root


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes[path]``: ``data`` with Range support unless ``range`` is False,
    ``cut_once`` (send half, then drop the connection, once), ``html`` (a web page)."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802
        srv = self.server
        srv.log.append({"path": self.path, "range": self.headers.get("Range"),
                        "agent": self.headers.get("User-Agent")})
        route = srv.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.get("html"):
            body = b"<!DOCTYPE html><html><body>Dropbox - sign in</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", route.get("content_type", "text/html; charset=utf-8"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if route.get("fail_times", 0) > 0:
            route["fail_times"] -= 1
            self.send_error(503)
            return
        data: bytes = route["data"]
        start = 0
        wanted = self.headers.get("Range")
        if wanted and route.get("range", True):
            start = int(re.match(r"bytes=(\d+)-$", wanted).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if route.get("cut_once") and not route.get("cut_done"):
            route["cut_done"] = True
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class _Server:
    def __init__(self) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}
        self.httpd.log = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def routes(self) -> dict:
        return self.httpd.routes

    @property
    def log(self) -> list:
        return self.httpd.log

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, data: bytes, **options) -> str:
        self.routes[path] = {"data": data, **options}
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = _Server()
    yield srv
    srv.close()


def _dead_url(path: str = "/x.zip") -> str:
    """An address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def _tiny_official_pair():
    import torch

    from stargan_cli.models import Discriminator, Generator

    torch.manual_seed(0)
    G = Generator(5, conv_dim=8, repeat_num=1)
    D = Discriminator(32, 5, conv_dim=8, repeat_num=2)
    return G.state_dict(), D.state_dict()


def _torch_bytes(state) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar(entries: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tf.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tf.addfile(info, io.BytesIO(entry[1]))
    return buf.getvalue()


@pytest.fixture(scope="module")
def official_pair():
    return _tiny_official_pair()


@pytest.fixture(scope="module")
def official_zip(official_pair) -> bytes:
    """The published archive's layout (200000-G.ckpt and -D.ckpt), with a tiny 32 px model."""
    g, d = official_pair
    return _zip({"200000-G.ckpt": _torch_bytes(g), "200000-D.ckpt": _torch_bytes(d)})


def _patch_asset(monkeypatch, name: str, **changes) -> registry.Asset:
    asset = dataclasses.replace(registry.ASSETS[name], **changes)
    monkeypatch.setitem(registry.ASSETS, name, asset)
    return asset


def _files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _assert_cache_clean(home: Path) -> None:
    """No file at all, and no hidden temporary folder, anywhere below STARGAN_HOME."""
    assert _files_under(home) == []
    assert [p for p in home.rglob(".*")] == [] if home.exists() else True


def _cli(args: list[str], **env):
    from stargan_cli.cli import app

    return CliRunner().invoke(app, args, env={"COLUMNS": "250", **env})


def _error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    return lines[0]


# --- full download, install, use by name ------------------------------------------------------


def test_download_install_and_use_by_name(server, monkeypatch, official_pair, official_zip, capsys, home):
    import torch

    from stargan_cli import model_store
    from stargan_cli.checkpoints import build_models
    from stargan_cli.loading import load_checkpoint

    url = server.serve("/celeba-128x128-5attrs.zip", official_zip)
    _patch_asset(monkeypatch, OFFICIAL, urls=(url,), image_size=32)

    path = model_store.resolve_model(OFFICIAL, quiet=True)

    assert path == paths.models_dir() / f"{OFFICIAL}.pt"
    assert "Downloading" in capsys.readouterr().err
    assert server.log[0]["agent"].startswith("stargan/")
    ckpt = load_checkpoint(path)
    assert ckpt.config.attributes == ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
    assert ckpt.config.image_size == 32 and ckpt.step == 200000
    assert ckpt.meta["asset"] == OFFICIAL and ckpt.meta["downloaded_from"] == url
    G, D = build_models(ckpt)
    assert D is not None
    assert torch.equal(G.state_dict()["main.0.weight"], official_pair[0]["main.0.weight"])
    out = G(torch.zeros(1, 3, 32, 32), torch.zeros(1, 5))
    assert out.shape == (1, 3, 32, 32)
    # the archive is gone once installed; a second use needs no network
    assert _files_under(paths.downloads_dir()) == []
    requests = len(server.log)
    assert model_store.resolve_model(OFFICIAL) == path
    assert model_store.resolve_model(None) != path  # the default is the bundled model, not this one
    assert len(server.log) == requests


def test_cli_download_with_url_mirror_then_list_and_remove(server, monkeypatch, official_zip):
    mirror = server.serve("/mirror/model.zip", official_zip)
    _patch_asset(monkeypatch, OFFICIAL, urls=(_dead_url(),), image_size=32)

    result = _cli(["download", OFFICIAL, "--url", mirror, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "Installed" in result.output
    target = paths.models_dir() / f"{OFFICIAL}.pt"
    assert target.is_file()
    assert [e["path"] for e in server.log] == ["/mirror/model.zip"]

    listing = _cli(["download", "--list"])
    assert listing.exit_code == 0
    lines = listing.output.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{OFFICIAL} "))
    assert "yes" in lines[at] and lines[at + 1].strip() == str(target)  # its file on the next line
    other = next(line for line in lines if line.startswith("stargan-celeba-256 "))
    assert other.rstrip().endswith(" no")
    for name in registry.names():
        assert name in listing.output

    again = _cli(["download", OFFICIAL, "--url", mirror])
    assert again.exit_code == 0 and "already installed" in again.output
    assert len(server.log) == 1  # nothing fetched without --force
    forced = _cli(["download", OFFICIAL, "--url", mirror, "--force", "-q"])
    assert forced.exit_code == 0 and "Installed" in forced.output
    assert len(server.log) == 2

    removed = _cli(["download", "--remove", OFFICIAL])
    assert removed.exit_code == 0 and "Removed" in removed.output
    assert not target.exists()
    twice = _cli(["download", "--remove", OFFICIAL])
    assert twice.exit_code == 0 and "not installed" in twice.output


# --- resume, retries, range handling ----------------------------------------------------------


def test_interrupted_transfer_resumes_with_range(server, home):
    data = os.urandom(300_000)
    url = server.serve("/big.bin", data, cut_once=True)
    dest = paths.downloads_dir() / "big.bin"
    sleeps: list[float] = []
    policy = download.RetryPolicy(attempts=3, timeout=5, backoff=0.25, sleep=sleeps.append)

    got = download.fetch([url], dest, name="big", sha256=hashlib.sha256(data).hexdigest(),
                         quiet=True, policy=policy)

    assert got == dest and dest.read_bytes() == data
    assert [e["range"] for e in server.log] == [None, f"bytes={len(data) // 2}-"]
    assert sleeps == [0.25]  # one back-off before the retry
    assert not (dest.parent / "big.bin.part").exists()


def test_partial_from_an_earlier_run_is_resumed(server):
    data = os.urandom(50_000)
    url = server.serve("/f.bin", data)
    dest = paths.downloads_dir() / "f.bin"
    (dest.parent / "f.bin.part").write_bytes(data[:12_345])

    download.fetch([url], dest, name="f", size=len(data), quiet=True)

    assert dest.read_bytes() == data
    assert server.log[0]["range"] == "bytes=12345-"


def test_server_ignoring_range_restarts_from_zero(server):
    data = os.urandom(40_000)
    url = server.serve("/norange.bin", data, range=False)
    dest = paths.downloads_dir() / "norange.bin"
    (dest.parent / "norange.bin.part").write_bytes(b"stale bytes that must not survive")

    download.fetch([url], dest, name="n", quiet=True)

    assert server.log[0]["range"] is not None  # asked to resume, got a 200
    assert dest.read_bytes() == data


def test_416_means_complete_or_restart(server):
    data = os.urandom(10_000)
    url = server.serve("/c.bin", data)
    dest = paths.downloads_dir() / "c.bin"
    part = dest.parent / "c.bin.part"
    part.write_bytes(data)  # everything arrived before the previous run was killed
    download.fetch([url], dest, name="c", quiet=True)
    assert dest.read_bytes() == data and len(server.log) == 1

    dest.unlink()
    part.write_bytes(data + b"garbage beyond the end")  # does not fit the server's file
    download.fetch([url], dest, name="c", quiet=True)
    assert dest.read_bytes() == data
    assert [e["range"] for e in server.log[1:]] == [f"bytes={len(data) + 22}-", None]


def test_server_errors_are_retried_and_mirrors_tried_in_order(server):
    data = os.urandom(20_000)
    flaky = server.serve("/flaky.bin", data, fail_times=2)
    sleeps: list[float] = []
    policy = download.RetryPolicy(attempts=3, timeout=5, backoff=0.1, sleep=sleeps.append)
    dest = paths.downloads_dir() / "flaky.bin"
    download.fetch([flaky], dest, name="flaky", quiet=True, policy=policy)
    assert dest.read_bytes() == data and sleeps == [0.1, 0.2]

    server.routes["/page"] = {"html": True}
    good = server.serve("/good.bin", data)
    dest.unlink()
    download.fetch([server.url("/missing"), server.url("/page"), good], dest, name="m", quiet=True)
    assert dest.read_bytes() == data
    assert [e["path"] for e in server.log[-3:]] == ["/missing", "/page", "/good.bin"]


def test_retries_give_up_with_exponential_backoff(home):
    sleeps: list[float] = []
    policy = download.RetryPolicy(attempts=4, timeout=2, backoff=0.5, sleep=sleeps.append)
    url = _dead_url()
    with pytest.raises(StarganError) as err:
        download.fetch([url], paths.downloads_dir() / "x.zip", name=OFFICIAL, quiet=True, policy=policy)
    assert sleeps == [0.5, 1.0, 2.0]
    message = str(err.value)
    assert "cannot reach" in message and "--from FILE" in message and "--url URL" in message
    assert "\n" not in message
    assert _files_under(home) == []


# --- verification failures leave the cache clean ----------------------------------------------


def test_wrong_checksum_is_rejected_and_cache_stays_clean(server, monkeypatch, official_zip, home):
    url = server.serve("/model.zip", official_zip + b"tampered")
    _patch_asset(monkeypatch, OFFICIAL, urls=(url,), image_size=32,
                 sha256=hashlib.sha256(official_zip).hexdigest())

    with pytest.raises(StarganError, match="checksum mismatch"):
        download.install(OFFICIAL, quiet=True)
    _assert_cache_clean(home)

    result = _cli(["download", OFFICIAL, "-q"])
    assert result.exit_code == 1
    line = _error_line(result)
    assert "checksum mismatch" in line and "--from FILE" in line
    _assert_cache_clean(home)


def test_wrong_size_is_rejected(server, monkeypatch, official_zip, home):
    url = server.serve("/model.zip", official_zip)
    _patch_asset(monkeypatch, OFFICIAL, urls=(url,), image_size=32, size=len(official_zip) + 1)
    with pytest.raises(StarganError, match="expected"):
        download.install(OFFICIAL, quiet=True)
    _assert_cache_clean(home)


def test_archive_without_the_expected_files_is_rejected(server, monkeypatch, home):
    url = server.serve("/model.zip", _zip({"README.txt": b"not a model"}))
    _patch_asset(monkeypatch, OFFICIAL, urls=(url,), image_size=32)
    with pytest.raises(StarganError, match="200000-G.ckpt"):
        download.install(OFFICIAL, quiet=True)
    _assert_cache_clean(home)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
def test_html_page_instead_of_archive(server, monkeypatch, home, content_type):
    url = server.url("/share?dl=0")
    server.routes["/share?dl=0"] = {"html": True, "content_type": content_type}
    _patch_asset(monkeypatch, OFFICIAL, urls=(url,))

    result = _cli(["download", OFFICIAL, "-q"])

    assert result.exit_code == 1
    line = _error_line(result)
    assert "web page" in line and "dl=1" in line and "--from FILE" in line
    assert len(server.log) == 1  # a web page is not retried
    _assert_cache_clean(home)


def test_html_file_given_with_from_is_rejected(tmp_path, home):
    page = tmp_path / "celeba.zip"
    page.write_text("\n  <!doctype html><html><head><title>Dropbox</title></head></html>")
    with pytest.raises(StarganError, match="web page"):
        download.install("celeba", from_file=page)
    _assert_cache_clean(home)


# --- offline ----------------------------------------------------------------------------------


def test_no_server_listening_gives_one_clear_line(monkeypatch, home):
    _patch_asset(monkeypatch, OFFICIAL, urls=(_dead_url(),))
    result = _cli(["download", OFFICIAL])
    assert result.exit_code == 1
    line = _error_line(result)
    assert "cannot reach 127.0.0.1" in line and "--from FILE" in line and "--url URL" in line
    assert "Traceback" not in result.output
    _assert_cache_clean(home)


def test_stargan_offline_forbids_network(server, monkeypatch, official_zip, home):
    url = server.serve("/model.zip", official_zip)
    _patch_asset(monkeypatch, OFFICIAL, urls=(url,), image_size=32)
    monkeypatch.setenv("STARGAN_OFFLINE", "1")
    with pytest.raises(StarganError, match="STARGAN_OFFLINE=1") as err:
        download.install(OFFICIAL)
    assert f"stargan download {OFFICIAL} --from FILE" in str(err.value)
    assert server.log == []
    result = _cli(["download", OFFICIAL], STARGAN_OFFLINE="1")
    assert result.exit_code == 1 and "--from" in _error_line(result)
    assert server.log == []


# --- --from -----------------------------------------------------------------------------------


def test_from_local_file_installs_without_network(tmp_path, monkeypatch, official_pair, home):
    import torch

    from stargan_cli.checkpoints import build_models
    from stargan_cli.loading import load_checkpoint

    g, d = official_pair
    # a copy repacked by the user, inside a folder: still found
    archive_path = tmp_path / "by-hand.zip"
    archive_path.write_bytes(_zip({"models/200000-G.ckpt": _torch_bytes(g),
                                   "models/200000-D.ckpt": _torch_bytes(d)}))
    _patch_asset(monkeypatch, OFFICIAL, urls=(_dead_url(),), image_size=32)

    result = _cli(["download", OFFICIAL, "--from", str(archive_path)], STARGAN_OFFLINE="1")

    assert result.exit_code == 0, result.output
    assert archive_path.exists()  # the user's file is left alone
    ckpt = load_checkpoint(paths.models_dir() / f"{OFFICIAL}.pt")
    G, _ = build_models(ckpt)
    assert torch.equal(G.state_dict()["main.0.weight"], g["main.0.weight"])
    assert _files_under(paths.downloads_dir()) == []


def test_from_the_unpacked_generator_file_with_its_discriminator_beside_it(tmp_path, monkeypatch, official_pair, home):
    import torch

    from stargan_cli.loading import load_checkpoint

    g, d = official_pair
    (tmp_path / "200000-G.ckpt").write_bytes(_torch_bytes(g))
    (tmp_path / "200000-D.ckpt").write_bytes(_torch_bytes(d))
    _patch_asset(monkeypatch, OFFICIAL, urls=(_dead_url(),), image_size=32)

    result = _cli(["download", OFFICIAL, "--from", str(tmp_path / "200000-G.ckpt")], STARGAN_OFFLINE="1")

    assert result.exit_code == 0, result.output
    ckpt = load_checkpoint(paths.models_dir() / f"{OFFICIAL}.pt")
    assert ckpt.D is not None and ckpt.step == 200000
    assert torch.equal(ckpt.D["conv1.weight"], d["conv1.weight"])


def test_from_missing_file_and_conflicting_options(tmp_path):
    result = _cli(["download", OFFICIAL, "--from", str(tmp_path / "nope.zip")])
    assert result.exit_code == 1 and "no such file" in _error_line(result)
    result = _cli(["download", OFFICIAL, "celeba", "--url", "http://127.0.0.1:9/x"])
    assert result.exit_code == 2 and "exactly one" in _error_line(result)


def test_celeba_dataset_from_tar(tmp_path, home):
    attrs = b"2\n" + b" ".join(a.encode() for a in ("Black_Hair", "Male")) + b"\n"
    tar_path = tmp_path / "celeba.tar.gz"
    tar_path.write_bytes(_tar([
        ("celeba/list_attr_celeba.txt", attrs),
        ("celeba/images/000001.jpg", b"\xff\xd8fake jpeg"),
        ("celeba/images/000002.jpg", b"\xff\xd8fake jpeg 2"),
    ]))
    result = download.install("celeba", from_file=tar_path)
    target = paths.datasets_dir() / "celeba"
    assert result.paths == [target]
    assert (target / "list_attr_celeba.txt").read_bytes() == attrs
    assert sorted(p.name for p in (target / "images").iterdir()) == ["000001.jpg", "000002.jpg"]
    assert [p.name for p in target.parent.iterdir()] == ["celeba"]  # no temporary folder left

    result = _cli(["download", "--remove", "celeba"])
    assert result.exit_code == 0 and not target.exists()


def test_unknown_name_suggests(monkeypatch):
    result = _cli(["download", "stargan-celeba-12"])
    assert result.exit_code == 2
    line = _error_line(result)
    assert "did you mean stargan-celeba-128" in line and "inception" in line
    result = _cli(["download"])
    assert result.exit_code == 2 and "--list" in _error_line(result)


def test_plain_file_asset_with_sha256_prefix(tmp_path, server, monkeypatch):
    data = os.urandom(5_000)
    digest = hashlib.sha256(data).hexdigest()
    url = server.serve("/inception.pth", data)
    asset = _patch_asset(monkeypatch, "inception", urls=(url,), sha256=digest[:8],
                         filename=f"inception-{digest[:8]}.pth")
    result = download.install("inception", quiet=True)
    assert result.paths == [paths.models_dir() / asset.filename]
    assert result.paths[0].read_bytes() == data

    wrong = tmp_path / "other.pth"
    wrong.write_bytes(b"x" * 100)
    with pytest.raises(StarganError, match="checksum mismatch"):
        download.install("inception", from_file=wrong, force=True)
    assert result.paths[0].read_bytes() == data  # the good install is untouched


def test_dlim2020_collection(tmp_path, monkeypatch, official_pair, home):
    from stargan_cli import model_store
    from stargan_cli.checkpoints import build_models
    from stargan_cli.loading import load_checkpoint
    from stargan_cli.models import Generator

    g, d = official_pair
    lookup = Generator(4, conv_dim=8, repeat_num=1, norm="lookup").state_dict()
    dlim: dict = {}
    layer = 0
    for key, value in lookup.items():  # rename ours into the DLIM2020 L1..Ln layout
        if value.dim() == 4 or key.endswith(".gain"):
            layer += 1
        suffix = "weight" if value.dim() == 4 else key.rsplit(".", 1)[1] + ".weight"
        dlim[f"L{layer}.{suffix}"] = value
    path = tmp_path / "Models.zip"
    path.write_bytes(_zip({
        "Models/Batchsize 8/200000-G.ckpt": _torch_bytes(g),
        "Models/Batchsize 8/200000-D.ckpt": _torch_bytes(d),
        "Models/New_IN/200000-G.ckpt": _torch_bytes(dlim),
        "Models/notes/broken.ckpt": b"not a torch file",
    }))

    result = download.install("dlim2020-models", from_file=path)

    names = sorted(p.name for p in result.paths)
    assert names == ["dlim2020-batchsize-8.pt", "dlim2020-new-in.pt"]
    assert len(result.skipped) == 1 and "broken.ckpt" in result.skipped[0]
    lookup_ckpt = load_checkpoint(model_store.resolve_model("dlim2020-new-in"))
    assert lookup_ckpt.config.norm == "lookup" and len(lookup_ckpt.config.attributes) == 4
    build_models(lookup_ckpt)
    base = load_checkpoint(model_store.resolve_model("dlim2020-batchsize-8"))
    assert base.D is not None and base.config.norm == "concat"
    with pytest.raises(StarganError, match="set of models"):
        model_store.resolve_model("dlim2020-models")
    assert download.remove("dlim2020-models") == sorted(result.paths)
    assert [n for n, _ in model_store.installed_models() if n.startswith("dlim2020-")] == []


# --- safe extraction --------------------------------------------------------------------------


@pytest.mark.parametrize("evil", ["../evil.txt", "/abs/evil.txt", "C:/evil.txt", "..\\evil.txt",
                                  "ok/../../evil.txt"])
def test_zip_entries_escaping_are_refused(tmp_path, evil):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_zip({"fine.txt": b"fine", evil: b"pwned"}))
    parent = tmp_path / "cache"
    with pytest.raises(StarganError, match="outside the target folder"):
        archive.safe_extract(bad, parent / "out")
    assert list(parent.iterdir()) == []
    assert [p for p in tmp_path.rglob("evil*")] == []


def test_install_refuses_escaping_archive_and_leaves_nothing(tmp_path, monkeypatch, official_zip, home):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(io.BytesIO(official_zip)) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        dst.writestr("../../evil.txt", b"pwned")
    _patch_asset(monkeypatch, OFFICIAL, image_size=32)
    result = _cli(["download", OFFICIAL, "--from", str(bad)])
    assert result.exit_code == 1 and "outside the target folder" in _error_line(result)
    _assert_cache_clean(home)
    assert [p for p in tmp_path.rglob("evil*")] == []


def test_tar_symlink_escaping_is_refused(tmp_path):
    link = tarfile.TarInfo("data/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../outside"
    bad = tmp_path / "bad.tar"
    bad.write_bytes(_tar([link, ("data/link/pwned.txt", b"x")], mode="w"))
    parent = tmp_path / "cache"
    with pytest.raises(StarganError, match="is a link"):
        archive.safe_extract(bad, parent / "out")
    assert list(parent.iterdir()) == []
    assert not (tmp_path / "outside").exists()


def test_tar_hardlink_and_absolute_paths_are_refused(tmp_path):
    hard = tarfile.TarInfo("passwd")
    hard.type = tarfile.LNKTYPE
    hard.linkname = "/etc/passwd"
    for name, entries in {"hard": [hard], "abs": [("/tmp/evil.txt", b"x")],
                          "dotdot": [("a/../../evil.txt", b"x")]}.items():
        bad = tmp_path / f"{name}.tar.gz"
        bad.write_bytes(_tar(entries))
        with pytest.raises(StarganError, match="link|outside"):
            archive.safe_extract(bad, tmp_path / "cache" / name)
    assert list((tmp_path / "cache").iterdir()) == []


def test_archive_bomb_limits(tmp_path):
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(_zip({"zeros.bin": b"\0" * 2_000_000}))  # compresses to a few KiB
    assert bomb.stat().st_size < 20_000
    with pytest.raises(StarganError, match="limit"):
        archive.safe_extract(bomb, tmp_path / "cache" / "a", max_bytes=1_000_000)
    many = tmp_path / "many.tar"
    many.write_bytes(_tar([(f"f{i}", b"") for i in range(50)], mode="w"))
    with pytest.raises(StarganError, match="more than the limit of 10 entries"):
        archive.safe_extract(many, tmp_path / "cache" / "b", max_entries=10)
    assert list((tmp_path / "cache").iterdir()) == []
    good = archive.safe_extract(many, tmp_path / "cache" / "c", max_entries=100)
    assert len(list(good.iterdir())) == 50


def test_a_tar_of_many_entries_is_refused_at_the_limit_not_after_reading_them_all(tmp_path, monkeypatch):
    import tarfile

    many = tmp_path / "many.tar.gz"
    many.write_bytes(_tar([(f"f{i}", b"") for i in range(2000)], mode="w:gz"))
    headers = []
    real_next = tarfile.TarFile.next
    monkeypatch.setattr(tarfile.TarFile, "next", lambda self: headers.append(1) or real_next(self))
    with pytest.raises(StarganError, match="more than the limit of 10 entries"):
        archive.safe_extract(many, tmp_path / "cache" / "a", max_entries=10)
    assert len(headers) < 20  # stopped at the limit: the other ~1,980 headers were never read
    assert list((tmp_path / "cache").iterdir()) == []


def test_damaged_archive(tmp_path, official_zip):
    cut = tmp_path / "cut.zip"
    cut.write_bytes(official_zip[: len(official_zip) // 2])
    with pytest.raises(StarganError):
        archive.safe_extract(cut, tmp_path / "cache" / "x")
    assert not (tmp_path / "cache" / "x").exists()
    assert [p for p in (tmp_path / "cache").iterdir()] == [] if (tmp_path / "cache").exists() else True


def test_damaged_checkpoint_inside_archive_is_named_by_archive_entry(tmp_path, home):
    # The error names archive:entry, never the hidden temporary folder in the cache.
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_zip({"m/200000-G.ckpt": b"\0" * 4096, "m/200000-D.ckpt": b"\0" * 16}))
    result = _cli(["download", OFFICIAL, "--from", str(bad), "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = _error_line(result)
    assert "bad.zip:m/200000-G.ckpt" in line and ".tmp" not in line
    _assert_cache_clean(home)


def test_every_install_kind_has_a_strategy():
    from stargan_cli import installers

    assert set(installers.STRATEGIES) == set(registry.INSTALL_KINDS) - {"bundled"}  # bundled: never installed
