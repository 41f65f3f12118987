"""Keys: what each key press does to the view (pure; the loop acts on the result)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

ESC, SPACE = 27, 32
# cv2.waitKeyEx codes: X11 keysyms (GTK and Qt backends), Windows virtual keys << 16, macOS.
LEFT_KEYS = frozenset({0xFF51, 0x250000, 0xF702})
RIGHT_KEYS = frozenset({0xFF53, 0x270000, 0xF703})
KEY_HELP = (
    "keys: 1-9/0 pick a target, left/right (or , .) cycle targets, space save a snapshot, "
    "p toggle paste-back, q/Esc quit"
)


class Action(str, Enum):
    """What the loop must do after a key press (beyond the new state)."""

    NONE = "none"
    QUIT = "quit"
    SNAPSHOT = "snapshot"
    TARGET = "target"
    PASTE = "paste"


@dataclass(frozen=True)
class ViewState:
    """What the user controls with keys: the current target (0-based) and paste-back mode."""

    target: int = 0
    targets: int = 1
    paste_back: bool = True

    def __post_init__(self) -> None:
        if self.targets < 1:
            raise ValueError("there must be at least one target")
        if not 0 <= self.target < self.targets:
            raise ValueError(f"target {self.target} out of range 0..{self.targets - 1}")


def next_target(state: ViewState, step: int = 1) -> ViewState:
    """``state`` moved ``step`` targets on, wrapping around (the right key, ``--cycle-every``)."""
    return replace(state, target=(state.target + step) % state.targets)


def handle_key(state: ViewState, key: int | None) -> tuple[ViewState, Action]:
    """The new state and the action for ``key`` (a ``cv2.waitKeyEx`` code; -1 or None: none).

    Number keys ``1``-``9`` pick targets 1-9 and ``0`` the tenth (ignored beyond the list);
    left/right arrows (or ``,``/``.``) step through the targets, wrapping around; space asks
    for a snapshot; ``p`` toggles paste-back; ``q`` or Esc quits. Other keys do nothing.
    """
    if key is None or key < 0:
        return state, Action.NONE
    if key in LEFT_KEYS or key in (ord(","), ord("<")):
        return next_target(state, -1), Action.TARGET
    if key in RIGHT_KEYS or key in (ord("."), ord(">")):
        return next_target(state), Action.TARGET
    if key > 0xFF:
        return state, Action.NONE
    char = chr(key).lower()
    if key == ESC or char == "q":
        return state, Action.QUIT
    if key == SPACE:
        return state, Action.SNAPSHOT
    if char == "p":
        return replace(state, paste_back=not state.paste_back), Action.PASTE
    if char.isdigit():
        index = (int(char) - 1) % 10  # "0" is the tenth target
        if index < state.targets:
            return replace(state, target=index), Action.TARGET
    return state, Action.NONE
