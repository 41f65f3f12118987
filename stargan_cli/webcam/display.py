"""Where the picture is shown: an OpenCV window, or nothing (headless), and whether a window
can be opened here at all."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Mapping, Protocol

import numpy as np

from ..errors import StarganError
from .keys import ESC


def gui_backend() -> str:
    """The GUI OpenCV was built with (``QT5``, ``GTK3``, ``WIN32UI``, ``COCOA``, ``NONE``...)."""
    import cv2

    match = re.search(r"^\s*GUI:\s*(\S+)", cv2.getBuildInformation(), re.MULTILINE)
    return match.group(1).upper() if match else "UNKNOWN"


def display_problem(
    environ: Mapping[str, str] | None = None, platform: str | None = None, gui: str | None = None
) -> str | None:
    """Why no window can be shown here, or None when one probably can (no window is opened).

    Checks that OpenCV has a GUI at all and, on Linux and BSD, that an X display is set
    (OpenCV's Qt/GTK windows need X or XWayland; without one Qt aborts the whole process).
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    gui = gui_backend() if gui is None else gui
    if gui == "NONE":
        return (
            "this OpenCV was built without window support (opencv-python-headless?): use "
            "--headless (with --output FILE to record), or install opencv-python"
        )
    if platform.startswith(("win", "darwin", "cygwin")):
        return None
    if not environ.get("DISPLAY"):
        wayland = ""
        if environ.get("WAYLAND_DISPLAY"):
            wayland = " (Wayland without XWayland is not supported by OpenCV windows)"
        return (
            f"no display available: DISPLAY is not set{wayland}; use --headless (with --output "
            "FILE to record a video)"
        )
    return None


def _probe_window() -> str | None:
    """Open and close a window in a child process: a dead X server kills the process (Qt
    aborts), so we find that out there and not here. Returns the problem, or None."""
    import subprocess

    code = "import cv2; cv2.namedWindow('probe'); cv2.waitKey(1); cv2.destroyAllWindows()"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        return "opening a window timed out"
    if done.returncode != 0:
        lines = [l for l in (done.stderr or "").splitlines() if l.strip()]
        return lines[0][:120] if lines else f"exit code {done.returncode}"
    return None


class Display(Protocol):
    """Where the composed frames go; returns the key pressed (-1: none)."""

    def show(self, canvas: np.ndarray) -> int: ...

    def close(self) -> None: ...


class HeadlessDisplay:
    """No window: nothing is shown and no key is ever pressed."""

    def show(self, canvas: np.ndarray) -> int:
        """Ignore the frame."""
        return -1

    def close(self) -> None:
        """Nothing to close."""


class WindowDisplay:
    """An OpenCV window; closing it counts as quitting."""

    def __init__(self, title: str = "stargan webcam", *, probe: bool = True) -> None:
        import cv2

        problem = display_problem()
        if problem is None and probe:
            found = _probe_window()
            if found is not None:
                problem = f"no display available ({found}): use --headless (with --output FILE to record)"
        if problem is not None:
            raise StarganError(problem)
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
        except cv2.error as err:
            first = (str(err).strip().splitlines() or ["cv2.error"])[-1][:100]
            raise StarganError(
                f"OpenCV cannot open a window ({first}): use --headless (with --output FILE to record)"
            ) from None
        self._shown = False

    def show(self, canvas: np.ndarray) -> int:
        """Show the frame and return the key pressed (Esc when the window was closed)."""
        import cv2

        cv2.imshow(self.title, canvas)
        key = cv2.waitKeyEx(1)
        if self._shown and cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            return ESC
        self._shown = True
        return key

    def close(self) -> None:
        """Close the window."""
        import cv2

        with contextlib.suppress(cv2.error):
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
