"""What the web page does, without the web: uploads, and the JSON answers about them.

The server (:mod:`.server`) only turns HTTP requests into calls here. A photo takes the same
path as with ``stargan translate``: :mod:`stargan_cli.photos` opens it, finds and aligns its
faces and pastes the result back, and :class:`~stargan_cli.translate.Translator` runs the
model; the intensity slider only blends the generator label between the face's own label and
the target's, as ``stargan grid --gif`` does. The models the page offers are :mod:`.models`.

Files: uploads are decoded in memory, a few at a time, into working copies kept within a memory
and an age bound (:mod:`.uploads`); what the page shows (the upload as decoded, results,
strips) is written into the :class:`~.workspace.Workspace`, one temporary folder whose files
are served by random name only. A photo larger than its working copy also keeps its uploaded
file there, and its downloads are pasted into that file, reopened, at the photo's full size.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from PIL import Image

from ..attributes import HAIR_COLORS, target_name
from ..errors import StarganError
from ..grid.animation import interpolate
from ..grid.sheet import result_strip
from ..photos.detect import detect_landmarks
from ..photos.face import Face
from ..photos.pipeline import compose_faces, open_photo, paste_faces
from .errors import NotFound
from .limits import (
    DECODE_AT_ONCE, DEFAULT_KEEP_MINUTES, DEFAULT_MEMORY_MB, MAX_UPLOAD_BYTES, MAX_UPLOAD_PIXELS, WORK_PIXELS,
)
from .models import Models
from .uploads import PhotoStore, Upload, decode_photo, decode_upload, return_free_memory
from .workspace import Workspace

if TYPE_CHECKING:
    from ..translate import TranslationResult, Translator

log = logging.getLogger("stargan.app")

# Translations of a photo remembered for a full-size download (the newest ones).
RESULTS_KEPT = 8
DOWNLOAD_JPEG_QUALITY = 95

# How the page shows where the picture changed: this colour, as opaque as the mask is open
# (up to MASK_OPACITY), laid over the result.
MASK_COLOUR = (255, 48, 48)
MASK_OPACITY = 0.6


def mask_overlay(mask: Image.Image) -> Image.Image:
    """A model's mask (grayscale, white = changed) as a transparent RGBA layer for the result:
    :data:`MASK_COLOUR` where it changed, clear where it did not."""
    alpha = mask.convert("L").point(lambda v: round(v * MASK_OPACITY))
    layer = Image.new("RGBA", mask.size, (*MASK_COLOUR, 0))
    layer.putalpha(alpha)
    return layer


@dataclasses.dataclass
class PastedResult:
    """One translation of a photo's face, kept so that a download can paste it again into the
    full-size photo: the face (aligned on the working copy), its translated square, the model's
    mask of it, the paste mode, the download's name, and the full-size file once written."""

    face: Face
    square: Image.Image
    mask: Image.Image | None
    paste: str
    download: str
    file: str | None = None


def _values(mapping: Mapping[str, Any] | None, what: str) -> dict[str, float]:
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise StarganError(f"{what} must be an object of attribute: value")
    try:
        return {str(k): float(v) for k, v in mapping.items()}
    except (TypeError, ValueError):
        raise StarganError(f"{what} values must be numbers") from None


class Engine:
    """The page's operations over the models, the uploads and the workspace.

    Model work is serialised by one lock: several users at once are queued, never run in
    parallel on one device. Uploads are decoded a few at a time into working copies of at most
    ``work_pixels`` and kept within ``memory_mb`` and ``keep_minutes`` (see :mod:`.uploads`).
    """

    def __init__(self, models: Models, workspace: Workspace | None = None, *,
                 max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS,
                 memory_mb: float = DEFAULT_MEMORY_MB, keep_minutes: float = DEFAULT_KEEP_MINUTES,
                 work_pixels: int = WORK_PIXELS) -> None:
        self.models = models
        self.workspace = workspace or Workspace()
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.work_pixels = work_pixels
        self.lock = threading.Lock()
        self._decoding = threading.BoundedSemaphore(DECODE_AT_ONCE)
        self.photos = PhotoStore(int(memory_mb * 2**20), keep_minutes * 60, forget=self._forget)

    def _forget(self, upload: Upload) -> None:
        """Delete a dropped photo's files."""
        self.workspace.forget(upload.file)
        self.workspace.drop_original(upload.original)
        for result in list(upload.results.values()):
            if result.file is not None:
                self.workspace.forget(result.file)

    def close(self) -> None:
        """Forget everything and remove the temporary folder."""
        self.photos.clear()
        self.workspace.close()

    # ---- uploads -------------------------------------------------------------------------

    def upload(self, data: bytes, name: str = "photo") -> dict[str, Any]:
        """Decode and keep a photo, find its faces; what the page shows of it."""
        with self._decoding:  # a few decodes at a time, whatever the number of uploads
            decoded = decode_photo(data, self.max_bytes, self.max_pixels, self.work_pixels)
        image = decoded.image
        original = self._keep_original(data) if decoded.reduced else None
        del data
        try:
            with self.lock:
                faces = [found.box for found in detect_landmarks(image)]  # numbered as translate numbers them
                file = self.workspace.save(image, "jpg")
                return_free_memory()
        except BaseException:
            self.workspace.drop_original(original)
            raise
        upload = Upload(secrets.token_urlsafe(9), image, _stem(name), file, faces, original=original,
                        format=decoded.format)
        try:
            self.photos.add(upload)
        except BaseException:
            self._forget(upload)
            raise
        largest = max(range(len(faces)), key=lambda i: faces[i].area, default=-1)
        return {
            "image": upload.id,
            "url": f"files/{file}",
            "name": upload.name,
            "width": image.width,
            "height": image.height,
            "faces": [
                {"number": i + 1, "box": [round(b.x, 1), round(b.y, 1), round(b.w, 1), round(b.h, 1)]}
                for i, b in enumerate(faces)
            ],
            "face": largest + 1 if faces else None,
        }

    def _keep_original(self, data: bytes) -> Any:
        """The uploaded file kept on disk for full-size downloads; None (downloads at the
        working copy's size) when the disk cannot take it."""
        try:
            return self.workspace.keep_original(data)
        except OSError as err:
            log.warning("could not keep the uploaded file for full-size downloads (%s); "
                        "its downloads will have the working copy's size", err)
            return None

    def _upload(self, image_id: str) -> Upload:
        return self.photos.get(str(image_id))

    def _prepared(self, translator: "Translator", upload: Upload, face: int | None) -> "TranslationResult":
        """The face's model-size crop, cut by the Translator exactly as ``translate`` does
        (``face`` None: the whole photo as a face crop, like ``--no-detect``)."""
        if face is not None and not 1 <= int(face) <= len(upload.faces):
            raise NotFound(f"face {face} does not exist: the photo has {len(upload.faces)} face(s)")
        key = (translator.image_size, None if face is None else int(face))
        result = upload.prepared.get(key)
        if result is None:
            result = translator.prepare(upload.image, detect=face is not None, face=key[1])
            if result.error:
                raise StarganError(result.error)
            upload.prepared[key] = result
        return result

    # ---- model work ----------------------------------------------------------------------

    def estimate(self, image_id: str, model: str | None, face: int | None) -> dict[str, Any]:
        """The face's own attributes as the model's discriminator estimates them: probabilities
        and the 0/1 label made of them (all off, ``estimated`` false, without a discriminator)."""
        upload = self._upload(image_id)
        with self.lock:
            translator = self.models.get(model)
            prepared = self._prepared(translator, upload, face)
            if not translator.has_classifier:
                return {"estimated": False, "scores": None,
                        "label": {a: 0.0 for a in translator.attributes},
                        "message": "this model has no discriminator to estimate the photo's attributes: set them yourself"}
            square = prepared.faces[0].crop
            scores = translator.classify(translator.square_tensor(square)[None])[0].tolist()
        label = translator.layout.label_from_scores(scores)
        return {
            "estimated": True,
            "scores": {a: round(p, 4) for a, p in zip(translator.attributes, scores)},
            "label": dict(zip(translator.attributes, label)),
        }

    def labels(self, translator: "Translator", source: Mapping[str, Any] | None,
               to: Mapping[str, Any] | None, strength: float) -> tuple[list[float], list[float], list[float], dict[str, float]]:
        """(start, target, sent, targets): the face's own generator label from ``source``
        (attribute: value, on above 0.5), the label with the changes ``to`` applied, the label
        sent to the model (``strength`` of the way from start to target), the checked changes."""
        strength = float(strength)
        if not 0.0 <= strength <= 1.0:
            raise StarganError("intensity must be between 0 and 1")
        layout = translator.layout
        source_label = layout.parse_source(_values(source, "source"))
        targets = layout.parse_targets(_values(to, "to")) if to else {}
        start = layout.start_label(source_label)
        end = layout.target_label(source_label, targets) if targets else start
        return start, end, interpolate(start, end, strength), targets

    def translate(self, image_id: str, model: str | None, face: int | None, source: Mapping[str, Any] | None,
                  to: Mapping[str, Any] | None, strength: float = 1.0) -> dict[str, Any]:
        """The photo with the face translated (the model-size square when ``face`` is None),
        pasted as the model's default paste says; ``mask_url``: where it changed, as a layer
        to lay over the result (models with a mask; else None)."""
        upload = self._upload(image_id)
        with self.lock:
            translator = self.models.get(model)
            start, end, label, targets = self.labels(translator, source, to, strength)
            prepared = self._prepared(translator, upload, face)
            chosen = prepared.faces[0]
            squares, masks = translator.generate_squares_with_masks([chosen.crop], [label])
            paste = translator.default_paste
        out, mask = compose_faces(upload.image, [chosen], squares, paste, masks)
        file = self.workspace.save(out)
        width, height = out.size
        del out
        return_free_memory()
        names = list(translator.attributes)
        full_size = upload.original is not None and chosen.frame is not None  # pasted when asked
        kind = "jpg" if full_size and upload.format == "JPEG" else "png"
        download = f"{upload.name}.{output_name(targets, float(strength))}.{kind}"
        download_url = f"files/{file}"
        if full_size:
            token = secrets.token_urlsafe(9)
            upload.results[token] = PastedResult(chosen, squares[0], None if masks is None else masks[0], paste,
                                                 download)
            while len(upload.results) > RESULTS_KEPT:
                _, old = upload.results.popitem(last=False)
                if old.file is not None:
                    self.workspace.forget(old.file)
            download_url = f"api/full/{upload.id}/{token}"
        return {
            "url": f"files/{file}",
            "mask_url": None if mask is None else f"files/{self.workspace.save(mask_overlay(mask))}",
            "width": width,
            "height": height,
            "label": {a: round(v, 4) for a, v in zip(names, label)},
            "start": {a: round(v, 4) for a, v in zip(names, start)},
            "target": {a: round(v, 4) for a, v in zip(names, end)},
            "download": download,
            "download_url": download_url,
        }

    def full_size(self, image_id: str, token: str) -> tuple[Path, str]:
        """A translation of ``translate`` pasted into the photo at its full size (its uploaded
        file, reopened; a few at a time, as uploads are decoded): the file and its name."""
        upload = self._upload(image_id)
        result = upload.results.get(str(token))
        if result is None or upload.original is None:
            raise NotFound("that result is no longer kept: translate the photo again")
        if result.file is not None:
            try:
                return self.workspace.path(result.file), result.download
            except NotFound:  # replaced by newer files: paste it again
                result.file = None
        with self._decoding:
            try:
                photo = open_photo(upload.original)
            except (OSError, StarganError) as err:
                raise NotFound(f"the uploaded file is no longer readable ({err}): upload the photo again") from None
            frame = result.face.frame.in_resized_photo(upload.image.size, photo.size)
            face = dataclasses.replace(result.face, frame=frame)
            out = paste_faces(photo, [face], [result.square], result.paste,
                              None if result.mask is None else [result.mask])
            del photo
            kind = result.download.rsplit(".", 1)[-1]
            result.file = self.workspace.save(out, kind, quality=DOWNLOAD_JPEG_QUALITY)
            del out
            return_free_memory()
        return self.workspace.path(result.file), result.download

    def strip(self, image_id: str, model: str | None, face: int | None, source: Mapping[str, Any] | None) -> dict[str, Any]:
        """The face, then one translation per attribute (``translate --all``'s strip)."""
        upload = self._upload(image_id)
        with self.lock:
            translator = self.models.get(model)
            given = translator.layout.parse_source(_values(source, "source")) if source is not None else None
            if face is not None and not 1 <= int(face) <= len(upload.faces):
                raise NotFound(f"face {face} does not exist: the photo has {len(upload.faces)} face(s)")
            result = translator.translate_all(
                upload.image, source=None if given is None else dict(zip(translator.attributes, given)),
                detect=face is not None, face=None if face is None else int(face),
            )
            sheet = result_strip(result)
        file = self.workspace.save(sheet)
        return {"url": f"files/{file}", "width": sheet.width, "height": sheet.height,
                "targets": result.targets, "download": f"{upload.name}.all.png"}


def _stem(name: str) -> str:
    stem = Path(str(name)).stem if name else "photo"
    cleaned = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60].strip("_")
    return cleaned or "photo"


def output_name(targets: Mapping[str, float], strength: float) -> str:
    """The download's name part, as ``translate`` names outputs (``Blond_Hair+Male=0``);
    hair colours turned off by turning another on are left out, a partial intensity added."""
    hair_on = any(a in HAIR_COLORS and v > 0 for a, v in targets.items())
    shown = {a: v for a, v in targets.items() if not (hair_on and a in HAIR_COLORS and v <= 0)}
    name = target_name(shown) if shown else "same"
    return name if strength >= 1 else f"{name}@{round(100 * strength)}"


__all__ = [
    "Engine", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "Models", "NotFound", "TooLarge", "Upload", "Workspace",
    "decode_upload", "output_name", "too_large_message",
]
