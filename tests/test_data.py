"""The data pipeline: CelebA files, splits, folder datasets, unreadable images, cache, loaders."""

from __future__ import annotations

import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stargan_cli.attributes import CELEBA_ATTRIBUTES
from stargan_cli.errors import StarganError
from stargan_cli.images import crop_resize, open_image, pil_to_uint8

from stargan_cli import data
from stargan_cli.data import (
    DataWarning,
    epoch_batches,
    held_out_count,
    infinite_batches,
    load_celeba,
    load_folder,
    make_loader,
    parse_attribute_text,
    sample_batch,
)

SIZE = 32
N = 40


def _write_image(path: Path, seed: int, size=(178, 218)) -> None:
    rng = np.random.default_rng(seed)
    # Smooth-ish random content: a coarse random grid scaled up, so JPEG keeps it distinctive.
    coarse = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
    Image.fromarray(coarse).resize(size, Image.BILINEAR).save(path, quality=90)


def _attr_rows(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    files = [f"{i + 1:06d}.jpg" for i in range(n)]
    return files, rng.choice([-1, 1], size=(n, len(CELEBA_ATTRIBUTES)))


def _attr_text(files, values, *, count_line=True, newline="\r\n", sep="real") -> str:
    lines = [str(len(files))] if count_line else []
    lines.append(" ".join(CELEBA_ATTRIBUTES) + " ")  # the real header ends with a space
    for name, row in zip(files, values):
        if sep == "real":  # right-aligned width 2: "-1  1  1 -1"
            lines.append(name + " " + " ".join(f"{v:2d}" for v in row))
        elif sep == "tabs":
            lines.append(name + "\t " + "  \t".join(str(v) for v in row) + "   ")
        else:
            lines.append(name + "," + ",".join(str(v) for v in row))
    if sep == "csv":
        lines[len(lines) - len(files) - 1] = "image_id," + ",".join(CELEBA_ATTRIBUTES)
    return newline.join(lines) + newline


def make_celeba(
    root: Path,
    n: int = N,
    *,
    image_dir: str = "images",
    attr_dir: str = "",
    partition: list[int] | None = None,
    count_line: bool = True,
    newline: str = "\r\n",
) -> tuple[list[str], np.ndarray]:
    """Synthetic CelebA: n JPEGs 178x218 + list_attr_celeba.txt (+ list_eval_partition.txt)."""
    files, values = _attr_rows(n)
    images = root / image_dir
    images.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(files):
        _write_image(images / name, seed=i)
    anno = root / attr_dir
    anno.mkdir(parents=True, exist_ok=True)
    (anno / "list_attr_celeba.txt").write_bytes(
        _attr_text(files, values, count_line=count_line, newline=newline).encode()
    )
    if partition is not None:
        (anno / "list_eval_partition.txt").write_text(
            "".join(f"{f} {p}\r\n" for f, p in zip(files, partition))
        )
    return files, values


@pytest.fixture
def celeba(tmp_path) -> tuple[Path, list[str], np.ndarray]:
    root = tmp_path / "celeba"
    files, values = make_celeba(root)
    return root, files, values


def _all_items(dataset) -> list:
    return [dataset[i] for i in range(len(dataset))]


def _names(dataset) -> list[str]:
    return [str(f) for f in dataset.files]


# ----------------------------------------------------------------------------- attribute file


@pytest.mark.parametrize("count_line", [True, False])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
@pytest.mark.parametrize("sep", ["real", "tabs", "csv"])
def test_attribute_file_variants_parse_the_same(count_line, newline, sep):
    files, values = _attr_rows(7)
    table = parse_attribute_text(_attr_text(files, values, count_line=count_line, newline=newline, sep=sep))
    assert table.names == list(CELEBA_ATTRIBUTES)
    assert table.files == files
    assert np.array_equal(table.values, (values == 1).astype(np.uint8))


def test_attribute_file_errors_name_the_line():
    files, values = _attr_rows(3)
    text = _attr_text(files, values, newline="\n").splitlines()
    short = "\n".join(text[:3] + [text[3].rsplit(" ", 1)[0]]) + "\n"
    with pytest.raises(StarganError, match="line 4"):
        parse_attribute_text(short)
    bad = "\n".join(text[:2] + [text[2].replace(" 1", " 7", 1)] + text[3:])
    with pytest.raises(StarganError, match="line 3: values must be 1 or -1"):
        parse_attribute_text(bad)
    with pytest.raises(StarganError, match="empty"):
        parse_attribute_text("\r\n\r\n")


def test_count_line_mismatch_warns():
    files, values = _attr_rows(3)
    text = _attr_text(files, values).replace("3\r\n", "5\r\n", 1)
    with pytest.warns(DataWarning, match="announces 5 images but lists 3"):
        parse_attribute_text(text)


def test_labels_follow_the_chosen_attributes_and_order(celeba):
    root, files, values = celeba
    chosen = ["young", "Black_Hair", "MALE"]
    source = load_celeba(root, chosen, SIZE, use_cache=False)
    assert source.names == ["Young", "Black_Hair", "Male"]
    assert source.label_mode == "multi"
    cols = [CELEBA_ATTRIBUTES.index(a) for a in source.names]
    for dataset in (source.train, source.test):
        for name, (_, label) in zip(_names(dataset), _all_items(dataset)):
            assert label.dtype == torch.float32
            expected = (values[files.index(name), cols] == 1).astype(np.float32)
            assert np.array_equal(label.numpy(), expected)


def test_unknown_attribute_fails_clearly(celeba):
    root, _, _ = celeba
    with pytest.raises(StarganError, match="unknown attribute 'Blond_Hiar': did you mean Blond_Hair"):
        load_celeba(root, ["Blond_Hiar"], SIZE)
    with pytest.raises(StarganError, match="listed twice"):
        load_celeba(root, ["Male", "male"], SIZE)


def test_attribute_missing_from_file_columns(tmp_path):
    root = tmp_path / "c"
    make_celeba(root, 4)
    attr = root / "list_attr_celeba.txt"
    text = attr.read_text().replace("Eyeglasses", "Glasses")
    attr.write_text(text)
    with pytest.raises(StarganError, match="no column Eyeglasses"):
        load_celeba(root, ["Eyeglasses"], SIZE, use_cache=False)


# ----------------------------------------------------------------------------- finding the files


@pytest.mark.parametrize(
    "image_dir, attr_dir",
    [
        ("images", ""),  # flat
        ("img_align_celeba", "Anno"),  # as distributed
        ("Img/img_align_celeba", "Anno"),
        ("celeba/images", "celeba"),  # the StarGAN authors' archive
        ("img_align_celeba/img_align_celeba", ""),  # Kaggle
        ("some/deep/folder", "annotations"),  # found by the search
    ],
)
def test_layouts_are_found(tmp_path, image_dir, attr_dir):
    make_celeba(tmp_path / "root", 12, image_dir=image_dir, attr_dir=attr_dir, count_line=False, newline="\n")
    source = load_celeba(tmp_path / "root", ["Male"], SIZE, use_cache=False)
    assert len(source.train) + len(source.test) == 12
    assert Path(source.root) == tmp_path / "root" / image_dir


def test_data_may_name_the_attribute_file(celeba):
    root, _, _ = celeba
    source = load_celeba(root / "list_attr_celeba.txt", ["Male"], SIZE, use_cache=False)
    assert len(source.train) + len(source.test) == N


def test_missing_data_says_how_to_get_it(tmp_path):
    hint = r"stargan download celeba.*--data DIR"
    with pytest.raises(StarganError, match=r"does not exist.*" + hint):
        load_celeba(tmp_path / "nowhere", ["Male"], SIZE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(StarganError, match=r"no list_attr_celeba.txt in .*" + hint):
        load_celeba(tmp_path / "empty", ["Male"], SIZE)
    files, values = _attr_rows(3)
    (tmp_path / "textonly").mkdir()
    (tmp_path / "textonly" / "list_attr_celeba.txt").write_text(_attr_text(files, values))
    with pytest.raises(StarganError, match=r"images not found.*000001\.jpg.*" + hint):
        load_celeba(tmp_path / "textonly", ["Male"], SIZE)


def test_default_root_is_the_datasets_folder(stargan_home):
    from stargan_cli import paths

    with pytest.raises(StarganError, match="stargan download celeba"):
        load_celeba(None, ["Male"], SIZE)
    make_celeba(paths.datasets_dir() / "celeba", 6, image_dir="celeba/images", attr_dir="celeba")
    source = load_celeba(None, ["Male"], SIZE, use_cache=False)
    assert len(source.train) + len(source.test) == 6


def test_missing_images_are_left_out_with_a_warning(celeba):
    root, files, _ = celeba
    for name in files[:3]:
        (root / "images" / name).unlink()
    with pytest.warns(DataWarning, match="3 of the 40 images"):
        source = load_celeba(root, ["Male"], SIZE, use_cache=False)
    assert set(_names(source.train)) | set(_names(source.test)) == set(files[3:])


# ----------------------------------------------------------------------------- splits


def test_official_partition_is_honoured(tmp_path):
    partition = [i % 3 for i in range(N)]  # 0 train, 1 val, 2 test
    files, _ = make_celeba(tmp_path / "c", partition=partition)
    source = load_celeba(tmp_path / "c", ["Male"], SIZE, use_cache=False)
    assert set(_names(source.test)) == {f for f, p in zip(files, partition) if p == 2}
    assert set(_names(source.train)) == {f for f, p in zip(files, partition) if p in (0, 1)}
    assert "official" in source.split


def test_partition_without_test_images_falls_back_to_the_seeded_split(tmp_path):
    make_celeba(tmp_path / "c", partition=[0] * N)
    source = load_celeba(tmp_path / "c", ["Male"], SIZE, use_cache=False)
    assert len(source.test) == 4 and "seeded" in source.split


def test_seeded_split_is_fixed_disjoint_and_the_original_rule(celeba):
    root, files, _ = celeba
    a = load_celeba(root, ["Male"], SIZE, use_cache=False)
    b = load_celeba(root, ["Male"], SIZE, use_cache=False)
    other = load_celeba(root, ["Male"], SIZE, use_cache=False, seed=7)
    assert _names(a.test) == _names(b.test) and _names(a.train) == _names(b.train)
    assert set(_names(a.test)) != set(_names(other.test))
    assert not set(_names(a.test)) & set(_names(a.train))
    assert set(_names(a.test)) | set(_names(a.train)) == set(files)
    # The original StarGAN: random.seed(1234); random.shuffle(lines); the first ones are test.
    shuffled = list(files)
    random.Random(1234).shuffle(shuffled)
    assert set(_names(a.test)) == set(shuffled[: held_out_count(N, 2000)])
    small = load_celeba(root, ["Male"], SIZE, use_cache=False, test_size=2)
    assert len(small.test) == 2


def test_held_out_count():
    assert [held_out_count(n, 2000) for n in (0, 1, 2, 19, 40, 6031, 202_599)] == [0, 0, 1, 1, 4, 603, 2000]
    assert held_out_count(1000, 0) == 0


# ----------------------------------------------------------------------------- folder datasets


def _make_folder(root: Path, sizes: dict[str, int], suffix=".png") -> None:
    for d, (domain, count) in enumerate(sizes.items()):
        (root / domain).mkdir(parents=True)
        for i in range(count):
            _write_image(root / domain / f"img{i:03d}{suffix}", seed=100 * d + i, size=(40, 40))


def test_folder_dataset_labels_and_per_domain_split(tmp_path):
    root = tmp_path / "rafd"
    _make_folder(root, {"sad": 12, "angry": 5, "happy": 1})
    (root / "notes.txt").write_text("not a domain")
    (root / ".hidden").mkdir()
    source = load_folder(root, SIZE, use_cache=False)
    assert source.name == "rafd" and source.label_mode == "single"
    assert source.names == ["angry", "happy", "sad"]
    for dataset in (source.train, source.test):
        for name, (image, label) in zip(_names(dataset), _all_items(dataset)):
            assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.uint8
            assert torch.equal(label, torch.eye(3)[source.names.index(name.split("/")[0])])
    test_domains = sorted(n.split("/")[0] for n in _names(source.test))
    assert test_domains == ["angry", "sad"]  # a tenth, at least one; a lone image stays in train
    assert len(source.train) + len(source.test) == 18
    again = load_folder(root, SIZE, use_cache=False)
    assert _names(again.test) == _names(source.test)
    # Seeded per domain: adding a domain leaves the other domains' test images unchanged.
    _make_folder(root / "extra", {"calm": 4})
    with_extra = load_folder(root, SIZE, use_cache=False)
    assert [n for n in _names(with_extra.test) if not n.startswith("extra")] == _names(source.test)


def test_folder_train_test_layout_is_used_as_is(tmp_path):
    root = tmp_path / "RaFD"
    _make_folder(root / "train", {"happy": 3, "sad": 3})
    _make_folder(root / "test", {"happy": 1, "sad": 2})
    source = load_folder(root, SIZE, use_cache=False)
    assert source.names == ["happy", "sad"]
    assert sorted(_names(source.test)) == ["test/happy/img000.png", "test/sad/img000.png", "test/sad/img001.png"]
    assert len(source.train) == 6


def test_folder_dataset_errors(tmp_path):
    with pytest.raises(StarganError, match="does not exist"):
        load_folder(tmp_path / "nope", SIZE)
    _make_folder(tmp_path / "one", {"only": 3})
    with pytest.raises(StarganError, match="only the domain 'only'.*one subfolder of images per domain"):
        load_folder(tmp_path / "one", SIZE)


# ----------------------------------------------------------------------------- items


def test_items_are_the_images_module_framing(celeba):
    root, _, _ = celeba
    source = load_celeba(root, ["Male"], SIZE, use_cache=False)
    image, _ = source.train[3]
    expected = pil_to_uint8(crop_resize(open_image(source.train.path(3)), SIZE))
    assert image.dtype == torch.uint8 and image.shape == (3, SIZE, SIZE)
    assert torch.equal(image, expected)


# ----------------------------------------------------------------------------- unreadable images


def _break_two(root: Path, files: list[str]) -> set[str]:
    good = (root / "images" / files[5]).read_bytes()
    (root / "images" / files[5]).write_bytes(good[: len(good) // 3])  # truncated JPEG
    (root / "images" / files[9]).write_text("this is not a JPEG")
    return {files[5], files[9]}


@pytest.mark.parametrize("workers", [0, 2])
def test_unreadable_images_are_skipped_and_counted_by_the_loader(celeba, workers):
    root, files, _ = celeba
    broken = _break_two(root, files)
    source = load_celeba(root, ["Male"], SIZE, use_cache=False, test_size=0)
    assert source.skipped == 0 and not source.cached and len(source.test) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loader = make_loader(source.train, 8, shuffle=True, seed=1, num_workers=workers, drop_last=False)
        seen = [labels.shape[0] for images, labels in loader]
    assert sum(seen) == N - 2 and len(seen) == 5
    assert loader.skipped == 2 and loader.state_dict()["skipped"] == 2
    if workers == 0:
        assert sum(issubclass(w.category, DataWarning) for w in caught) == 2
    bad_index = _names(source.train).index(files[9])
    with pytest.warns(DataWarning, match="not an image"):
        assert source.train[bad_index] is None
    assert set(broken) <= set(_names(source.train))


def test_unreadable_images_are_excluded_from_the_cache(celeba):
    root, files, _ = celeba
    broken = _break_two(root, files)
    with pytest.warns(DataWarning, match="skipped 2 unreadable"):
        source = load_celeba(root, ["Male"], SIZE, quiet=True)
    assert source.cached and source.skipped == 2
    kept = set(_names(source.train)) | set(_names(source.test))
    assert kept == set(files) - broken
    loader = make_loader(source.train, 4, shuffle=True, seed=0, num_workers=0, drop_last=False)
    assert sum(len(b[0]) for b in loader) == len(source.train) and loader.skipped == 0
    # Opening the cache again keeps the count without decoding anything.
    assert load_celeba(root, ["Male"], SIZE, build_cache=False).skipped == 2


# ----------------------------------------------------------------------------- cache


def test_cache_gives_exactly_the_jpeg_pipeline_tensors(celeba, stargan_home, monkeypatch):
    root, _, _ = celeba
    plain = load_celeba(root, ["Male", "Young"], SIZE, use_cache=False)
    cached = load_celeba(root, ["Male", "Young"], SIZE, quiet=True)
    assert cached.cached and not plain.cached
    assert isinstance(cached.train.array, np.memmap)
    assert Path(cached.cache_dir).is_relative_to(stargan_home)
    assert not list(Path(cached.cache_dir).glob("*.tmp"))
    for a, b in ((plain.train, cached.train), (plain.test, cached.test)):
        assert _names(a) == _names(b)
        for (xa, ya), (xb, yb) in zip(_all_items(a), _all_items(b)):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)
    la = list(make_loader(plain.train, 8, shuffle=True, seed=3, num_workers=0))
    lb = list(make_loader(cached.train, 8, shuffle=True, seed=3, num_workers=0))
    assert len(la) == len(lb) == len(plain.train) // 8
    for (xa, ya), (xb, yb) in zip(la, lb):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)

    # A second load opens the same cache without building; other attributes need no rebuild.
    def no_build(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(data.cache, "build_cache", no_build)
    again = load_celeba(root, ["Black_Hair"], SIZE)
    assert again.cached and again.cache_dir == cached.cache_dir
    # Another size is another cache; without building, the JPEG pipeline is the fallback.
    other = load_celeba(root, ["Male"], 16, build_cache=False)
    assert not other.cached and other.train[0][0].shape == (3, 16, 16)


def test_damaged_cache_is_rebuilt(celeba):
    root, _, _ = celeba
    first = load_celeba(root, ["Male"], SIZE, quiet=True)
    x0 = first.train[0][0].clone()
    array = Path(first.cache_dir) / "images.npy"
    array.write_bytes(array.read_bytes()[:1000])  # truncated
    second = load_celeba(root, ["Male"], SIZE, quiet=True)
    assert second.cached and torch.equal(second.train[0][0], x0)


def test_interrupted_build_leaves_nothing_behind(celeba, monkeypatch):
    root, _, _ = celeba
    real = data.cache.load_image_uint8
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 30:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(data.cache, "load_image_uint8", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_celeba(root, ["Male"], SIZE, quiet=True)
    folders = list((data.cache.paths.cache_root() / "preprocessed").iterdir())
    assert len(folders) == 1 and [p.name for p in folders[0].iterdir() if p.name != ".lock"] == []
    monkeypatch.setattr(data.cache, "load_image_uint8", real)
    assert not load_celeba(root, ["Male"], SIZE, build_cache=False).cached
    assert load_celeba(root, ["Male"], SIZE, quiet=True).cached


def test_concurrent_loads_build_the_cache_once(celeba, monkeypatch):
    import threading
    import time

    root, _, _ = celeba
    real = data.cache.build_cache
    builds = []

    def slow_build(*args, **kwargs):
        builds.append(1)
        time.sleep(0.3)  # let the other loader reach the lock
        return real(*args, **kwargs)

    monkeypatch.setattr(data.cache, "build_cache", slow_build)
    sources = []
    threads = [
        threading.Thread(target=lambda: sources.append(load_celeba(root, ["Male"], SIZE, quiet=True)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(sources) == 2 and all(s.cached for s in sources)


def test_folder_cache_matches_files(tmp_path):
    root = tmp_path / "faces"
    _make_folder(root, {"a": 4, "b": 6}, suffix=".jpg")
    plain = load_folder(root, SIZE, use_cache=False)
    cached = load_folder(root, SIZE, quiet=True)
    assert cached.cached
    for (xa, ya), (xb, yb) in zip(_all_items(plain.train), _all_items(cached.train)):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


# ----------------------------------------------------------------------------- loaders


def test_epoch_batches_are_a_function_of_seed_and_epoch():
    a = epoch_batches(50, 8, epoch=0, seed=1, shuffle=True, drop_last=True)
    assert len(a) == 6 and all(len(b) == 8 for b in a)
    assert len(set(np.concatenate(a).tolist())) == 48
    same = epoch_batches(50, 8, epoch=0, seed=1, shuffle=True, drop_last=True)
    assert all(np.array_equal(x, y) for x, y in zip(a, same))
    nxt = epoch_batches(50, 8, epoch=1, seed=1, shuffle=True, drop_last=True)
    assert not all(np.array_equal(x, y) for x, y in zip(a, nxt))
    full = epoch_batches(50, 8, epoch=0, seed=1, shuffle=False, drop_last=False)
    assert np.array_equal(np.concatenate(full), np.arange(50)) and len(full[-1]) == 2


def test_distributed_ranks_get_disjoint_equal_shares():
    ranks = [epoch_batches(50, 4, epoch=2, seed=0, shuffle=True, drop_last=True, rank=r, world=3) for r in range(3)]
    assert len({len(r) for r in ranks}) == 1 and len(ranks[0]) == 4
    flat = [np.concatenate(r) for r in ranks]
    assert not set(flat[0]) & set(flat[1]) and not set(flat[1]) & set(flat[2])
    padded = [epoch_batches(10, 4, epoch=0, seed=0, shuffle=True, drop_last=False, rank=r, world=3) for r in range(3)]
    assert {sum(len(b) for b in r) for r in padded} == {4}


class _Counting(torch.utils.data.Dataset):
    """Records every index fetched."""

    def __init__(self, n):
        self.n, self.fetched = n, []

    def __len__(self):
        return self.n

    def fetch(self, indices):
        self.fetched.extend(indices)
        idx = torch.tensor(indices)
        return idx.view(-1, 1, 1, 1).expand(-1, 3, 2, 2).to(torch.uint8), idx.float()[:, None], 0


def test_loader_state_resumes_the_same_batches_without_fetching_skipped_ones(celeba):
    root, _, _ = celeba
    source = load_celeba(root, ["Male"], SIZE, quiet=True)
    loader = make_loader(source.train, 8, shuffle=True, seed=11, num_workers=0)
    assert len(loader) == 4
    stream = infinite_batches(loader)
    for _ in range(3):
        next(stream)
    state = loader.state_dict()
    assert (state["epoch"], state["position"]) == (0, 3)
    expected = [next(stream) for _ in range(6)]  # crosses into epochs 1 and 2
    assert loader.state_dict()["epoch"] == 2

    fresh = make_loader(source.train, 8, shuffle=True, seed=11, num_workers=0)
    fresh.load_state_dict(state)
    resumed = infinite_batches(fresh)
    for (xa, ya), (xb, yb) in zip(expected, (next(resumed) for _ in range(6))):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)

    counting = _Counting(36)
    plain = make_loader(counting, 8, shuffle=True, seed=11, num_workers=0, prefetch=0)
    plain.load_state_dict(state)
    first = next(iter(plain))
    assert counting.fetched == first[0][:, 0, 0, 0].tolist() and len(counting.fetched) == 8
    assert counting.fetched == loader.batches(0)[3].tolist()
    # With the prefetch thread, batches run ahead, but never the skipped ones.
    counting = _Counting(36)
    ahead = make_loader(counting, 8, shuffle=True, seed=11, num_workers=0, prefetch=4)
    ahead.load_state_dict({**state, "position": 1})
    assert next(iter(ahead))[1][:, 0].long().tolist() == loader.batches(0)[1].tolist()
    assert set(counting.fetched) <= set(np.concatenate(loader.batches(0)[1:]).tolist())
    assert not set(counting.fetched) & set(loader.batches(0)[0].tolist())


def test_loader_state_at_an_epoch_end_and_with_workers():
    counting = _Counting(20)
    loader = make_loader(counting, 5, shuffle=True, seed=2, num_workers=2)
    epoch0 = [b[1][:, 0].long().tolist() for b in loader]
    assert loader.state_dict()["epoch"] == 1 and sorted(sum(epoch0, [])) == list(range(20))
    loader.set_epoch(0)
    it = iter(loader)
    for _ in range(4):
        last = next(it)
    state = loader.state_dict()  # the last batch handed out, the generator not yet finished
    assert (state["epoch"], state["position"]) == (0, 4)
    fresh = make_loader(counting, 5, shuffle=True, seed=2, num_workers=0)
    fresh.load_state_dict(state)
    nxt = next(iter(fresh))
    assert nxt[1][:, 0].long().tolist() == loader.batches(1)[0].tolist()
    assert last[1][:, 0].long().tolist() == epoch0[3]


def test_load_state_dict_warns_when_the_data_changed():
    loader = make_loader(_Counting(20), 5, shuffle=True, seed=2, num_workers=0)
    with pytest.warns(DataWarning, match="length 30 -> 20"):
        loader.load_state_dict({"epoch": 3, "position": 2, "seed": 2, "batch_size": 5, "length": 30, "world": 1})
    assert (loader.epoch, loader.position) == (3, 0)


def test_infinite_batches_needs_one_batch():
    with pytest.raises(StarganError, match="batch size 8"):
        next(infinite_batches(make_loader(_Counting(5), 8, shuffle=True, seed=0, num_workers=0)))


def test_sample_batch_is_fixed_and_replaces_unreadable_images(celeba):
    root, files, _ = celeba
    _break_two(root, files)
    source = load_celeba(root, ["Male"], SIZE, use_cache=False, test_size=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        a_images, a_labels = sample_batch(source.train, 38, seed=4)
        b_images, _ = sample_batch(source.train, 38, seed=4)
        c_images, _ = sample_batch(source.train, 6, seed=5)
        everything, _ = sample_batch(source.train, 100, seed=4)
    assert a_images.shape == (38, 3, SIZE, SIZE) and a_labels.shape == (38, 1)
    assert torch.equal(a_images, b_images)
    assert not torch.equal(a_images[:6], c_images)
    assert len(everything) == N - 2


def test_a_new_preprocessing_version_gets_a_new_cache(tmp_path, monkeypatch):
    from stargan_cli import images
    from stargan_cli.data.cache import cache_dir_for

    first = cache_dir_for("celeba", tmp_path, ["a.jpg", "b.jpg"], 32)
    assert cache_dir_for("celeba", tmp_path, ["a.jpg", "b.jpg"], 32) == first
    monkeypatch.setattr(images, "PREPROCESS_VERSION", images.PREPROCESS_VERSION + 1)
    assert cache_dir_for("celeba", tmp_path, ["a.jpg", "b.jpg"], 32) != first
