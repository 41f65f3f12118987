"""Where translate writes: output paths for files and folders, and writing without clobbering."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from stargan_cli.errors import StarganError, UsageError
from stargan_cli.image_files import InputFile
from stargan_cli.output_plan import OutputPlan, output_is_file, write_outputs


def test_output_is_a_file_or_a_folder(tmp_path):
    assert not output_is_file(None)
    assert not output_is_file(tmp_path)
    assert not output_is_file(Path("new/"))
    assert output_is_file(tmp_path / "out.JPG")
    with pytest.raises(UsageError, match=r"\.gif is not an image format we write"):
        output_is_file(tmp_path / "out.gif")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(StarganError, match="is an existing file, not a folder"):
        output_is_file(tmp_path / "notes.txt")


def test_paths_next_to_the_input_in_a_folder_or_one_file(tmp_path):
    photo = InputFile(tmp_path / "in" / "sub" / "me.jpg", tmp_path / "in")
    assert OutputPlan(None).path(photo, "Blond_Hair", True) == tmp_path / "in" / "sub" / "me.Blond_Hair.png"
    assert OutputPlan(tmp_path / "out").path(photo, "all", False) == tmp_path / "out" / "sub" / "me.all.png"
    one = OutputPlan.for_output(tmp_path / "x.jpg", 1)
    assert one.path(photo, "Male", True) == tmp_path / "x.jpg"
    assert one.path(photo, "all", False) == tmp_path / "x.all.jpg"
    example = InputFile(tmp_path / "pkg" / "astronaut.jpg")
    assert OutputPlan(None, example=example.path).path(example, "Male", True) == Path(".") / "astronaut.Male.png"
    with pytest.raises(UsageError, match="names one file, but 2 images were given"):
        OutputPlan.for_output(tmp_path / "x.jpg", 2)


def test_existing_outputs_are_found_before_translating(tmp_path):
    item = InputFile(tmp_path / "me.jpg")
    (tmp_path / "me.Male.png").write_bytes(b"")
    plan = OutputPlan(None)
    assert plan.existing([item], ["Young", "Male"], single=True) == {item.path: tmp_path / "me.Male.png"}
    assert plan.existing([item], ["Young"], single=True) == {}


def test_writing_checks_every_path_first(tmp_path):
    image = Image.new("RGB", (4, 4))
    written: dict[Path, Path] = {}
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert write_outputs([(a, image)], Path("one.jpg"), False, written) is None
    assert a.is_file() and written == {a.resolve(): Path("one.jpg")}
    clash = write_outputs([(b, image), (a, image)], Path("two.jpg"), True, written)
    assert clash == f"two.jpg would write {a}, already written for one.jpg: use separate runs or -o folders"
    assert not b.exists()  # nothing half-done
    assert write_outputs([(a, image)], Path("three.jpg"), False, {}) == f"{a} exists: pass --overwrite to replace it"
