"""No import circles in stargan_cli/, read from the source (every import counts: at the top, in
a function, or only for type checking), and the old import paths of moved names still work."""

from __future__ import annotations

import ast
from pathlib import Path

import stargan_cli

PACKAGE = Path(stargan_cli.__file__).parent


def module_files(root: Path = PACKAGE) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's ``__init__``) for every module under ``root``."""
    modules = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _imported(name: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = name.split(".") if is_package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    # ``from pkg import name`` imports the submodule pkg.name when there is one.
    return [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports. Importing ``a.b.c`` runs ``a/__init__`` and
    ``a/b/__init__`` first, so those count too (unless the importer is inside them)."""
    modules = module_files(root)
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _imported(name, is_package, node, modules):
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]  # a name defined in a module, not a module
                if target not in modules or target == name:
                    continue
                edges.add(target)
                parts = target.split(".")
                for i in range(1, len(parts)):
                    parent = ".".join(parts[:i])
                    if parent in modules and not (name == parent or name.startswith(parent + ".")):
                        edges.add(parent)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (``[a, b, ..., a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_import_circle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_checker_sees_circles(tmp_path):
    """A circle through a function-level import, one only for type checking, and one through a
    package's __init__ are all found; a package importing its own submodules is not one."""
    pkg = tmp_path / "demo"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .one import x\n")
    (pkg / "sub" / "one.py").write_text("from ..two import y\nx = 1\n")
    (pkg / "two.py").write_text("y = 2\n")
    assert find_cycle(import_graph(pkg)) is None
    (pkg / "two.py").write_text("y = 2\ndef f():\n    from .sub.one import x\n")
    assert find_cycle(import_graph(pkg)) == ["demo.sub", "demo.sub.one", "demo.two", "demo.sub"]
    (pkg / "two.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .sub import one\n")
    assert find_cycle(import_graph(pkg)) is not None


def test_moved_photo_names_keep_their_old_paths():
    from stargan_cli import align, faces, landmarks, photos, translate

    assert faces.Box is photos.Box and faces.feather_mask is photos.feather_mask
    assert faces.detect_faces is photos.haar.detect_faces and faces.paste_back is photos.haar.paste_back
    assert align.Frame is photos.Frame and align.paste_square is photos.paste_square
    assert align.PASTE_MODES == photos.PASTE_MODES == ("delta", "masked", "mask", "replace")
    assert landmarks.detect_landmarks is photos.detect_landmarks and landmarks.LandmarkFace is photos.LandmarkFace
    assert translate.Face is photos.Face and translate.load_image is photos.open_photo
    assert translate.TranslationResult is photos.TranslationResult
    assert translate.check_paste is photos.check_paste
