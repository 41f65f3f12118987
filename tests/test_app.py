"""`stargan app`: the page's API through Starlette's test client, the engine, the command."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import warnings

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("starlette", reason="the app extra is not installed: pip install -e '.[app]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx (in the test extra)")

with warnings.catch_warnings():  # Starlette 1.x prefers httpx2; httpx works with every version
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

from app_helpers import ATTRS, sample_bytes, tiny_checkpoint  # noqa: E402
from stargan_cli import paths  # noqa: E402
from stargan_cli.app.engine import Engine, Models, Workspace  # noqa: E402
from stargan_cli.app.uploads import decode_upload  # noqa: E402
from stargan_cli.app.server import create_app  # noqa: E402
from stargan_cli.cli import app as cli_app  # noqa: E402
from stargan_cli.errors import StarganError  # noqa: E402
from stargan_cli.image_files import example_image_path  # noqa: E402
from stargan_cli.model_store import DEFAULT_MODEL  # noqa: E402

runner = CliRunner()


@pytest.fixture
def ckpt(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny.pt")


@pytest.fixture
def engine(ckpt):
    engine = Engine(Models([str(ckpt)], device="cpu", include_installed=False))
    yield engine
    engine.close()


@pytest.fixture
def client(engine):
    with TestClient(create_app(engine)) as client:
        yield client


def png(response) -> Image.Image:
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def upload(client, data: bytes | None = None, name: str = "astronaut.jpg") -> dict:
    response = client.post(f"/api/upload?name={name}", content=sample_bytes() if data is None else data,
                           headers={"Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.text
    return response.json()


def spy_labels(engine, monkeypatch) -> list:
    """Record every generator label the model is sent."""
    translator = engine.models.get()
    sent: list = []
    real = translator.generate_squares_with_masks

    def spy(squares, labels):
        sent.extend(list(map(list, labels)))
        return real(squares, labels)

    monkeypatch.setattr(translator, "generate_squares_with_masks", spy)
    return sent


# ---- the page ------------------------------------------------------------------------------

def test_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and 'id="file"' in page.text and "static/app.js" in page.text
    assert "api/translate" in client.get("/static/app.js").text
    assert client.get("/static/app.css").status_code == 200


def test_the_page_has_an_icon_and_favicon_ico_is_no_404(client):
    page = client.get("/").text
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    for path in ("/" + icon, "/favicon.ico"):
        response = client.get(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
        assert response.content.startswith(b"<svg")


def test_models_describe_the_controls(client, ckpt):
    data = client.get("/api/models").json()
    assert data["models"] == ["tiny"] and data["default"] == "tiny"
    model = data["model"]
    assert model["hair"] == ["Black_Hair", "Blond_Hair", "Brown_Hair"]
    assert model["toggles"] == ["Male", "Young"] and model["domains"] == []
    assert model["has_classifier"] and model["image_size"] == 32


# ---- upload -> translated photo ------------------------------------------------------------

def test_upload_translate_gives_the_photo_size_and_the_translate_pipeline(client, engine):
    photo = upload(client)
    original = Image.open(example_image_path())
    assert (photo["width"], photo["height"]) == original.size
    assert len(photo["faces"]) == 1 and photo["face"] == 1
    assert png(client.get(photo["url"])).size == original.size  # the decoded upload, as shown

    est = client.post("/api/estimate", json={"image": photo["image"], "face": 1}).json()
    assert est["estimated"] and set(est["scores"]) == set(ATTRS)
    target = "Blond_Hair" if not est["label"]["Blond_Hair"] else "Black_Hair"
    result = client.post("/api/translate", json={
        "image": photo["image"], "face": 1, "source": est["label"], "to": {target: 1}, "strength": 1,
    }).json()
    out = png(client.get(result["url"]))
    assert out.size == original.size
    assert result["download"] == f"astronaut.{target}.png"
    # Exactly what `stargan translate --to TARGET` produces: the same Translator pipeline.
    expected = engine.models.get()(example_image_path(), to=[target])
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    assert not np.array_equal(np.asarray(out), np.asarray(png(client.get(photo["url"]))))
    assert result["mask_url"] is None  # this model has no mask to show


def test_a_mask_model_shows_where_the_picture_changed(tmp_path):
    model = tiny_checkpoint(tmp_path / "masky.pt", g_output="mask")
    engine = Engine(Models([str(model)], device="cpu", include_installed=False))
    try:
        with TestClient(create_app(engine)) as client:
            assert 'id="show-mask"' in client.get("/").text
            photo = upload(client)
            result = client.post("/api/translate", json={
                "image": photo["image"], "face": 1, "source": {"Black_Hair": 1}, "to": {"Blond_Hair": 1},
            }).json()
            out = png(client.get(result["url"]))
            response = client.get(result["mask_url"])
            assert response.status_code == 200
            overlay = Image.open(io.BytesIO(response.content))
            translator = engine.models.get()
            # The photo pasted with the model's own mask, as `stargan translate` does by default.
            api = next(translator.translate_many([example_image_path()], to="Blond_Hair", source="Black_Hair"))
            assert np.array_equal(np.asarray(out), np.asarray(api.outputs["Blond_Hair"]))
            # The overlay: the model's mask in the photo, as a red layer as clear as the mask is shut.
            assert overlay.mode == "RGBA" and overlay.size == out.size
            alpha = np.asarray(overlay)[:, :, 3].astype(int)
            expected = np.rint(np.asarray(api.masks["Blond_Hair"]).astype(float) * 0.6)
            assert np.abs(alpha - expected).max() <= 1
            assert alpha.max() > 0 and alpha[0, 0] == 0  # the corner of the photo is far from the face
    finally:
        engine.close()


def test_each_control_changes_the_label_sent(client, engine, monkeypatch):
    photo = upload(client)
    sent = spy_labels(engine, monkeypatch)
    source = {"Black_Hair": 1, "Blond_Hair": 0, "Brown_Hair": 0, "Male": 0, "Young": 1}
    base = {"image": photo["image"], "face": 1, "source": source, "strength": 1}

    def label(**changes):
        body = {**base, **changes}
        response = client.post("/api/translate", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["label"] == dict(zip(ATTRS, sent[-1]))
        return sent[-1]

    assert label(to={}) == [1, 0, 0, 0, 1]  # no change: the face's own label
    assert label(to={"Blond_Hair": 1}) == [0, 1, 0, 0, 1]  # hair colour: one choice
    assert label(to={"Brown_Hair": 1}) == [0, 0, 1, 0, 1]
    assert label(to={"Black_Hair": 0}) == [0, 0, 0, 0, 1]  # no listed hair colour
    assert label(to={"Male": 1}) == [1, 0, 0, 1, 1]  # toggles
    assert label(to={"Young": 0}) == [1, 0, 0, 0, 0]
    assert label(to={"Male": 1, "Young": 0}) == [1, 0, 0, 1, 0]
    # Intensity: between the face's own label and the target, as `grid --gif` interpolates.
    assert label(to={"Blond_Hair": 1}, strength=0.25) == pytest.approx([0.75, 0.25, 0, 0, 1])
    assert label(to={"Male": 1}, strength=0) == [1, 0, 0, 0, 1]
    # The photo's attributes, edited on the page, are what the label starts from.
    assert label(source={**source, "Male": 1}, to={"Young": 0}) == [1, 0, 0, 1, 0]
    assert label(source={**source, "Black_Hair": 0, "Brown_Hair": 1}, to={}) == [0, 0, 1, 0, 1]


def test_label_mistakes_are_answered(client):
    photo = upload(client)
    base = {"image": photo["image"], "face": 1, "source": {}}
    answer = client.post("/api/translate", json={**base, "to": {"Blonde_Hair": 1}})
    assert answer.status_code == 400 and "did you mean Blond_Hair" in answer.json()["error"]
    answer = client.post("/api/translate", json={**base, "to": {"Male": 1}, "strength": 2})
    assert answer.status_code == 400 and "intensity" in answer.json()["error"]
    answer = client.post("/api/translate", json={**base, "to": {"Male": "yes"}})
    assert answer.status_code == 400 and "numbers" in answer.json()["error"]
    answer = client.post("/api/translate", json={**base, "face": 3, "to": {"Male": 1}})
    assert answer.status_code == 404 and "1 face" in answer.json()["error"]
    answer = client.post("/api/translate", json={"image": "nope", "to": {"Male": 1}})
    assert answer.status_code == 404 and "upload it again" in answer.json()["error"]
    answer = client.post("/api/translate", content=b"{not json", headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "JSON" in answer.json()["error"]
    answer = client.post("/api/estimate", json={"image": photo["image"], "model": "other", "face": 1})
    assert answer.status_code == 404 and "unknown model" in answer.json()["error"]


def test_download_is_named_as_translate_names_outputs():
    from stargan_cli.app.engine import output_name

    assert output_name({"Blond_Hair": 1.0, "Black_Hair": 0.0}, 1.0) == "Blond_Hair"
    assert output_name({"Black_Hair": 0.0, "Male": 1.0}, 1.0) == "Black_Hair=0+Male"
    assert output_name({"Young": 0.0}, 0.5) == "Young=0@50"
    assert output_name({}, 1.0) == "same"


def test_all_targets_strip(client):
    photo = upload(client)
    data = client.post("/api/strip", json={"image": photo["image"], "face": 1, "source": {"Black_Hair": 1}}).json()
    assert data["targets"] == ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male=flip", "Young=flip"]
    width, height = png(client.get(data["url"])).size  # translate --all's labelled strip: cells >= 256 px
    assert width >= 256 * (1 + len(ATTRS)) and 256 <= height < 2 * 256


def test_photo_without_a_face_is_taken_as_a_crop(client):
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)).save(buffer, "PNG")
    photo = upload(client, buffer.getvalue(), "noise.png")
    assert photo["faces"] == [] and photo["face"] is None
    result = client.post("/api/translate", json={"image": photo["image"], "face": None, "source": {},
                                                 "to": {"Male": 1}}).json()
    assert png(client.get(result["url"])).size == (32, 32)  # the model-size square, as --no-detect


def test_bundled_sample_is_one_click(client):
    photo = client.post("/api/example", json={}).json()
    assert photo["name"] == "astronaut" and len(photo["faces"]) == 1


# ---- bad uploads ---------------------------------------------------------------------------

def test_bad_uploads_get_a_message_and_the_server_goes_on(ckpt):
    engine = Engine(Models([str(ckpt)], device="cpu", include_installed=False), max_bytes=50_000, max_pixels=100_000)
    try:
        with TestClient(create_app(engine)) as client:
            def error(data: bytes, status: int) -> str:
                answer = client.post("/api/upload", content=data, headers={"Content-Type": "image/jpeg"})
                assert answer.status_code == status, answer.text
                return answer.json()["error"]

            assert "not an image" in error(b"%PDF-1.4 definitely not a photo", 400)
            assert "empty" in error(b"", 400)
            assert error(os.urandom(60_000), 413) == "the file is 58.6 KB; photos up to 48.8 KB are accepted"
            big = io.BytesIO()
            Image.new("RGB", (400, 400), "white").save(big, "PNG")  # small file, too many pixels
            assert "megapixels" in error(big.getvalue(), 413)
            jpeg = io.BytesIO()
            Image.new("RGB", (100, 100), "gray").save(jpeg, "JPEG")
            assert "decoded" in error(jpeg.getvalue()[:200], 400)  # truncated
            assert client.get("/api/models").status_code == 200  # still serving
            assert list(engine.workspace.root.iterdir()) == []  # nothing kept of the bad uploads
    finally:
        engine.close()


def test_upload_limit_refuses_a_stream_without_reading_it_all(client, engine):
    engine.max_bytes = 1000
    chunks = (b"x" * 600 for _ in range(100))  # no Content-Length: read until the limit
    answer = client.post("/api/upload", content=chunks)
    assert answer.status_code == 413 and "accepted" in answer.json()["error"]


def test_decode_upload_applies_exif_orientation():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    Image.new("RGB", (40, 20), "red").save(buffer, "JPEG", exif=exif)
    assert decode_upload(buffer.getvalue()).size == (20, 40)
    with pytest.raises(StarganError, match="not an image"):
        decode_upload(b"hello")


# ---- files ---------------------------------------------------------------------------------

def test_only_files_it_wrote_are_served(client, engine):
    photo = upload(client)
    assert client.get(photo["url"]).status_code == 200
    for path in ("/files/nothing.png", "/files/..%2F..%2Fetc%2Fpasswd", "/files/%2Fetc%2Fpasswd",
                 "/static/../engine.py", "/static/..%2Fengine.py", "/files/" + str(engine.workspace.root)):
        assert client.get(path).status_code == 404, path


def test_workspace_keeps_few_files_and_is_removed_on_close(tmp_path):
    workspace = Workspace(keep=2)
    names = [workspace.save(Image.new("RGB", (4, 4))) for _ in range(3)]
    assert sorted(p.name for p in workspace.root.iterdir()) == sorted(names[1:])
    with pytest.raises(StarganError):
        workspace.path(names[0])
    assert workspace.path(names[2]).parent == workspace.root
    workspace.close()
    assert not workspace.root.exists()


def test_workspace_on_a_full_disk_says_so_and_leaves_no_file(monkeypatch):
    from full_disk import full_when

    from stargan_cli import fileio

    workspace = Workspace()
    kept = workspace.save(Image.new("RGB", (4, 4)))
    full_when(fileio, lambda path: True, monkeypatch)
    try:
        for kind in ("png", "jpg"):
            with pytest.raises(StarganError, match="no space left on device while writing"):
                workspace.save(Image.new("RGB", (4, 4)), kind=kind)
            assert [p.name for p in workspace.root.iterdir()] == [kept]  # no part-written file
    finally:
        workspace.close()


def test_several_users_are_queued_not_parallel(client, engine, monkeypatch):
    photo = upload(client)
    translator = engine.models.get()
    active, most = [0], [0]
    real = translator.generate_squares_with_masks

    def slow(squares, labels):
        active[0] += 1
        most[0] = max(most[0], active[0])
        time.sleep(0.05)
        try:
            return real(squares, labels)
        finally:
            active[0] -= 1

    monkeypatch.setattr(translator, "generate_squares_with_masks", slow)
    body = {"image": photo["image"], "face": 1, "source": {}, "to": {"Male": 1}}
    answers: list = []
    threads = [threading.Thread(target=lambda: answers.append(client.post("/api/translate", json=body)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 4
    assert most[0] == 1


def test_loopback_server_refuses_other_host_names(engine):
    with TestClient(create_app(engine, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1") as c:
        assert c.get("/").status_code == 200
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 400


# ---- models --------------------------------------------------------------------------------

def test_model_selector_switches_models(tmp_path, engine):
    other = tiny_checkpoint(tmp_path / "glasses.pt", ("Eyeglasses", "Smiling"), seed=3)
    engine = Engine(Models([str(tmp_path / "tiny.pt"), str(other)], device="cpu", include_installed=False))
    try:
        with TestClient(create_app(engine)) as client:
            assert client.get("/api/models").json()["models"] == ["tiny", "glasses"]
            model = client.get("/api/models?name=glasses").json()["model"]
            assert model["toggles"] == ["Eyeglasses", "Smiling"] and model["hair"] == []
            photo = upload(client)
            est = client.post("/api/estimate", json={"image": photo["image"], "model": "glasses", "face": 1}).json()
            assert set(est["label"]) == {"Eyeglasses", "Smiling"}
            result = client.post("/api/translate", json={"image": photo["image"], "model": "glasses", "face": 1,
                                                         "source": est["label"], "to": {"Eyeglasses": 1}}).json()
            assert set(result["label"]) == {"Eyeglasses", "Smiling"} and result["label"]["Eyeglasses"] == 1
    finally:
        engine.close()


def test_default_model_and_installed_models_as_every_command_resolves_them(tmp_path):
    folder = paths.models_dir(create=True)
    tiny_checkpoint(folder / f"{DEFAULT_MODEL}.pt")
    tiny_checkpoint(folder / "mine.pt", ("Male", "Young"))
    models = Models(device="cpu")
    assert models.names() == [DEFAULT_MODEL, "mine"]
    assert models.get().attributes == ATTRS
    assert Models(["mine"], device="cpu").names() == ["mine", DEFAULT_MODEL]


def test_model_without_discriminator_asks_for_the_attributes(tmp_path):
    path = tiny_checkpoint(tmp_path / "g_only.pt", with_d=False)
    engine = Engine(Models([str(path)], device="cpu", include_installed=False))
    try:
        photo = engine.upload(sample_bytes())
        est = engine.estimate(photo["image"], None, 1)
        assert not est["estimated"] and "set them yourself" in est["message"]
        assert engine.translate(photo["image"], None, 1, {"Black_Hair": 1}, {"Male": 1})["label"]["Male"] == 1
    finally:
        engine.close()


def test_single_label_model_uses_its_domains(tmp_path):
    path = tiny_checkpoint(tmp_path / "moods.pt", ("angry", "happy", "sad"), label_mode="single")
    engine = Engine(Models([str(path)], device="cpu", include_installed=False))
    try:
        info = engine.models.describe()
        assert info["domains"] == ["angry", "happy", "sad"] and info["hair"] == info["toggles"] == []
        photo = engine.upload(sample_bytes())
        result = engine.translate(photo["image"], None, 1, {"angry": 1}, {"sad": 1}, 0.5)
        assert result["label"] == {"angry": 0.5, "happy": 0.0, "sad": 0.5}
        assert engine.translate(photo["image"], None, 1, {"happy": 1}, {})["label"] == {"angry": 0, "happy": 1, "sad": 0}
    finally:
        engine.close()


# ---- the command ---------------------------------------------------------------------------

def test_missing_packages_are_found(monkeypatch):
    from stargan_cli.app import missing_dependency

    assert missing_dependency() is None
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    assert missing_dependency() == "uvicorn"


def test_without_the_extra_it_says_how_to_install(monkeypatch):
    import stargan_cli.app as app_package

    monkeypatch.setattr(app_package, "missing_dependency", lambda: "starlette")
    result = runner.invoke(cli_app, ["app", "--no-browser"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and 'pip install -e ".[app]"' in lines[0]


def test_help_names_the_extra():
    result = runner.invoke(cli_app, ["app", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and 'pip install -e ".[app]"' in result.output


def test_loopback_hosts_and_addresses(monkeypatch):
    import socket

    from stargan_cli.app.serving import bind, is_loopback, url_of

    assert all(is_loopback(h) for h in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "::", "example.com"))
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert url_of(sock, "127.0.0.1") == f"http://127.0.0.1:{port}/"
        assert url_of(sock, "0.0.0.0") == f"http://127.0.0.1:{port}/"
    finally:
        sock.close()
    def unknown_host(*args, **kwargs):  # a name lookup that fails, without asking a DNS server
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", unknown_host)
    with pytest.raises(StarganError, match="--host"):
        bind("no-such-host.invalid", 0)


def test_port_in_use_is_one_error_line(ckpt):
    from stargan_cli.app.serving import bind

    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        result = runner.invoke(cli_app, ["app", "-m", str(ckpt), "--port", str(port), "--no-browser", "--device", "cpu"])
        assert result.exit_code == 1 and f"port {port} is in use" in result.output
    finally:
        taken.close()


def test_other_host_is_warned_about(ckpt, monkeypatch):
    import uvicorn

    def ctrl_c(self, sockets=None):
        raise KeyboardInterrupt  # what uvicorn re-raises after a Ctrl-C it has handled

    monkeypatch.setattr(uvicorn.Server, "run", ctrl_c)
    result = runner.invoke(cli_app, ["app", "-m", str(ckpt), "--host", "0.0.0.0", "--port", "0", "--no-browser",
                                     "--device", "cpu"])
    assert result.exit_code == 130, result.output  # Ctrl-C, as every command
    assert "Warning: listening on 0.0.0.0: anyone who can reach this machine" in " ".join(result.output.split())
    assert "Stopped." in result.output


def test_command_serves_on_loopback_and_stops_cleanly_on_ctrl_c(ckpt, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "stargan_cli", "app", "-m", str(ckpt), "--port", "0", "--no-browser", "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        lines = []
        while True:
            line = process.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            found = re.search(r"Serving on (http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        page = ""
        deadline = time.monotonic() + 300  # generous: a loaded CI machine is slow to start
        while not page and time.monotonic() < deadline:  # the socket listens before uvicorn answers
            try:
                page = urllib.request.urlopen(url, timeout=60).read().decode()
            except OSError:
                time.sleep(0.1)
        assert 'id="file"' in page
        request = urllib.request.Request(url + "api/upload?name=me.jpg", data=sample_bytes(), method="POST")
        photo = json.loads(urllib.request.urlopen(request, timeout=300).read())
        assert len(photo["faces"]) == 1
        assert len(list(temp.glob("stargan-app-*/*"))) == 1  # the decoded upload, in its temp folder
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, out  # the README's code for Ctrl-C
    assert "Stopped." in out and "Traceback" not in out
    # The app's temp folder is gone. (torch itself may leave a torchinductor_<user> cache folder
    # in TMPDIR: that is not ours to remove.)
    assert [p for p in temp.iterdir() if not p.name.startswith("torchinductor_")] == []


# ---- under load: odd JSON, parallel uploads, many users ------------------------------------

@pytest.mark.parametrize("endpoint, changes", [
    ("translate", {"strength": []}), ("translate", {"strength": "abc"}), ("translate", {"strength": None}),
    ("translate", {"strength": True}), ("translate", {"face": "x"}), ("translate", {"face": True}),
    ("translate", {"face": 1.5}), ("translate", {"face": [1]}), ("translate", {"to": []}),
    ("translate", {"to": {"Male": None}}), ("translate", {"to": {"Male": [1]}}), ("translate", {"source": "Male"}),
    ("translate", {"image": 5}), ("translate", {"image": None}), ("translate", {"model": 5}),
    ("translate", {"model": {"a": 1}}), ("estimate", {"face": {}}), ("estimate", {"image": []}),
    ("strip", {"source": [1, 2]}), ("strip", {"face": "1"}), ("strip", {"model": []}),
])
def test_odd_json_values_are_answered_400_naming_the_field(client, endpoint, changes):
    body = {"image": "some-photo", "face": 1, "source": {}, "to": {"Male": 1}, **changes}
    answer = client.post(f"/api/{endpoint}", json=body)
    assert answer.status_code == 400, answer.text
    field = next(iter(changes))
    assert field in answer.json()["error"] or (field == "strength" and "intensity" in answer.json()["error"])


@pytest.mark.parametrize("raw", ['"face": Infinity', '"strength": NaN', '"face": -Infinity',
                                 '"to": {"Male": Infinity}'])
def test_json_infinity_and_nan_are_refused(client, raw):
    body = '{"image": "some-photo", "source": {}, %s}' % raw
    answer = client.post("/api/translate", content=body.encode(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["error"], answer.text


def test_an_oversized_json_request_is_told_in_kilobytes(client):
    answer = client.post("/api/translate", content=b" " * 70_000, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["error"] == "the request is 68.4 KB; requests up to 64 KB are accepted"


def test_parallel_uploads_are_decoded_a_few_at_a_time(client, engine, monkeypatch):
    from stargan_cli.app import engine as engine_module
    from stargan_cli.app.uploads import DECODE_AT_ONCE

    active, most, guard = [0], [0], threading.Lock()
    real = engine_module.decode_photo

    def slow_decode(*args, **kwargs):
        with guard:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.1)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(engine_module, "decode_photo", slow_decode)
    answers: list = []
    threads = [threading.Thread(target=lambda: answers.append(client.post(
        "/api/upload", content=sample_bytes(), headers={"Content-Type": "image/jpeg"}))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [200] * 8
    assert most[0] <= DECODE_AT_ONCE == 2


def test_a_large_photo_is_kept_as_a_working_copy_of_a_few_megapixels(ckpt):
    engine = Engine(Models([str(ckpt)], device="cpu", include_installed=False), work_pixels=20_000)
    try:
        with TestClient(create_app(engine)) as client:
            big = io.BytesIO()
            Image.new("RGB", (400, 300), "gray").save(big, "JPEG")  # 120,000 pixels
            photo = upload(client, big.getvalue(), "big.jpg")
            kept = engine.photos.get(photo["image"]).image
            assert kept.size == (photo["width"], photo["height"])
            assert kept.width * kept.height <= 20_000 and abs(kept.width / kept.height - 4 / 3) < 0.02
            result = client.post("/api/translate", json={"image": photo["image"], "face": None, "source": {},
                                                         "to": {"Male": 1}})
            assert result.status_code == 200, result.text
    finally:
        engine.close()


def test_the_download_of_a_reduced_photo_is_pasted_into_the_original_at_full_size(ckpt):
    portrait = Image.open(example_image_path()).convert("RGB")
    big = portrait.resize((portrait.width * 3, portrait.height * 3), Image.BICUBIC)
    data = io.BytesIO()
    big.save(data, "PNG")
    engine = Engine(Models([str(ckpt)], device="cpu", include_installed=False),
                    work_pixels=portrait.width * portrait.height)
    try:
        with TestClient(create_app(engine)) as client:
            photo = upload(client, data.getvalue(), "big.png")
            assert photo["width"] * photo["height"] <= portrait.width * portrait.height and photo["faces"]
            result = client.post("/api/translate", json={"image": photo["image"], "face": 1, "source": {},
                                                         "to": {"Blond_Hair": 1}}).json()
            shown = np.asarray(png(client.get(result["url"]))).astype(int)
            assert shown.shape[:2] == (photo["height"], photo["width"])
            assert result["download"] == "big.Blond_Hair.png" and result["download_url"].startswith("api/full/")
            response = client.get(result["download_url"])
            assert "big.Blond_Hair.png" in response.headers["content-disposition"]
            full = png(response)
            assert full.size == big.size  # the photo's own size, not the working copy's
            full_array, big_array = np.asarray(full).astype(int), np.asarray(big).astype(int)
            changed = np.abs(full_array - big_array).max(axis=2) > 0
            assert 0 < changed.mean() < 0.5  # the face was pasted, the rest is the original's pixels
            # The same edit as the page showed, in the same place: at the working size they agree.
            again = np.asarray(full.resize((photo["width"], photo["height"]), Image.BOX)).astype(int)
            before = np.asarray(big.resize((photo["width"], photo["height"]), Image.BOX)).astype(int)
            edit_full, edit_shown = again - before, shown - before
            region = np.abs(edit_shown).max(axis=2) > 8
            assert region.any() and np.abs(edit_full - edit_shown)[region].mean() < 0.25 * np.abs(edit_shown)[region].mean()
            assert client.get(result["download_url"]).content == response.content  # written once
            # A photo within the working size downloads the page's own result.
            small = upload(client)
            plain = client.post("/api/translate", json={"image": small["image"], "face": 1, "source": {},
                                                        "to": {"Male": 1}}).json()
            assert plain["download_url"] == plain["url"]
            assert client.get(f"/api/full/{photo['image']}/nope").status_code == 404
            # A photo dropped (here: past its age) takes its kept original and downloads with it.
            originals = engine.workspace.root / "originals"
            assert len(list(originals.iterdir())) == 1
            engine.photos.max_age = -1.0
            assert client.get(result["download_url"]).status_code == 410
            assert list(originals.iterdir()) == []
    finally:
        engine.close()
    assert not engine.workspace.root.exists()


def test_many_users_keep_their_photos_and_an_evicted_one_is_told_it_expired(ckpt):
    engine = Engine(Models([str(ckpt)], device="cpu", include_installed=False))
    try:
        with TestClient(create_app(engine)) as client:
            photos = [upload(client)["image"] for _ in range(8)]  # more than the 6 photos once kept
            for image in photos:
                answer = client.post("/api/translate", json={"image": image, "face": 1, "source": {},
                                                             "to": {"Male": 1}})
                assert answer.status_code == 200, answer.text
            # a memory bound that holds two of them drops the least recently used
            engine.photos.memory_bytes = 2 * engine.photos.get(photos[0]).nbytes + 1
            newest = upload(client)["image"]
            assert len(engine.photos) == 2
            answer = client.post("/api/translate", json={"image": photos[1], "to": {"Male": 1}})
            assert answer.status_code == 410 and answer.json()["error"] == "this photo expired, upload it again"
            assert client.post("/api/estimate", json={"image": newest, "face": 1}).status_code == 200
            answer = client.post("/api/estimate", json={"image": "never-uploaded"})
            assert answer.status_code == 404 and "upload it again" in answer.json()["error"]
    finally:
        engine.close()


def test_photos_unused_for_too_long_expire():
    from stargan_cli.app.uploads import Expired, PhotoStore, Upload

    now = [0.0]
    forgotten = []
    store = PhotoStore(memory_bytes=1 << 30, max_age=600, forget=forgotten.append, clock=lambda: now[0])
    first, second = (Upload(name, Image.new("RGB", (10, 10)), name, f"{name}.jpg", []) for name in ("a", "b"))
    store.add(first)
    now[0] = 400
    store.add(second)
    now[0] = 700  # a: unused for 700 s; b: for 300 s
    assert store.get("b") is second
    with pytest.raises(Expired, match="this photo expired, upload it again"):
        store.get("a")
    assert forgotten == [first]
    now[0] = 1_000  # b was used at 700: still kept
    assert store.get("b") is second


def test_the_memory_bound_has_a_flag(ckpt):
    result = runner.invoke(cli_app, ["app", "--help"], env={"COLUMNS": "200"})
    assert "--memory-mb" in result.output and "--keep-minutes" in result.output
