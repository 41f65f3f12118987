"""The Translator: StarGAN attribute translation of photos, as a Python API.

``stargan translate`` (and the grid and webcam commands) only wrap this module::

    from stargan_cli import Translator

    translator = Translator.from_pretrained()          # the official 128 px CelebA model
    out = translator("me.jpg", to=["Blond_Hair"])      # PIL image, same size as the photo
    translator.estimate_attributes("me.jpg")           # {"Black_Hair": 0.93, ...}

How an image is handled:

- ``detect=True`` (default): faces are found with five landmarks and aligned like CelebA's
  images (rotated upright, eyes where CelebA has them); each one is translated and brought
  back into the photo through the inverse transform (``paste``: by default only what the model
  changed, so the photo keeps its resolution); the result has the photo's size. All of that
  photo work is :mod:`stargan_cli.photos` (:mod:`~stargan_cli.photos.pipeline` reads top to
  bottom); this module keeps the model and the label calls.
- ``detect=False``: the image is taken as an aligned face crop and gets exactly the original
  StarGAN test preprocessing (centre square, resize, normalise; :func:`images.to_model_input`);
  the result is the model-size square, as the original code writes.

Targets (``to``) name attributes to turn on (``"Blond_Hair"``) or off (``"Male=0"``); hair
colours stay mutually exclusive. Every attribute not named keeps the input's own value, which
is estimated per face with the discriminator's classification head (sigmoid > 0.5 for
multi-label models, argmax for single-label ones) or stated with ``source=``.

Which files a command translates and what the outputs are called is
:mod:`stargan_cli.image_files`; where the outputs are written, :mod:`stargan_cli.output_plan`.
The label algebra (targets on the face's own label, hair colours, exclusive domains) is the
model's :class:`~stargan_cli.label_layout.LabelLayout` (``translator.layout``).
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

from PIL import Image

from .attributes import target_name
from .errors import StarganError, UsageError
from .images import crop_resize, mask_to_pil, normalize, pil_to_uint8, tensor_to_pil, to_rgb
from .label_layout import LabelLayout, TargetsInput
from .photos.face import Face
from .photos.paste import check_paste, default_paste
from .photos.pipeline import ImageInput, TranslationResult, open_photo, prepare_photo, translate_photos

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .checkpoints import Checkpoint
    from .models.config import ModelConfig

NO_CLASSIFIER = (
    "this model was saved without its discriminator, so the input's own attributes cannot be "
    "estimated: state them with --source-attrs ATTR,... (the attributes that are on; "
    "source= in the API)"
)


# The old name of photos.pipeline.open_photo, kept for library callers.
load_image = open_photo


def check_request(
    to: TargetsInput | None,
    *,
    all_domains: bool = False,
    detect: bool = True,
    face: int | None = None,
    paste: str | None = None,
    batch_size: int = 1,
) -> None:
    """The checks of a translation request that need no model (the options of
    :meth:`Translator.translate_many`): targets or ``all_domains`` (one of them), ``face``
    only with detection, a known ``paste`` mode (None: the model's default), ``batch_size``
    at least 1."""
    if all_domains and to:
        raise UsageError("--all makes one output per attribute: drop --to, or drop --all")
    if not all_domains and not to:
        raise UsageError("no target given: use --to ATTR (e.g. --to Blond_Hair) or --all")
    if face is not None and not detect:
        raise UsageError("--face picks one of the detected faces: it cannot be used with --no-detect")
    if paste is not None:
        check_paste(paste)
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")


class Translator:
    """A loaded StarGAN model ready to translate photos.

    Build it from a checkpoint (``Translator(path_or_checkpoint)``), from a model name
    (:meth:`from_pretrained`), or from networks already in memory
    (``Translator(generator=G, discriminator=D, config=cfg)``). ``discriminator`` is optional:
    without it the input's attributes must be stated (``source=``). ``device``: ``None``
    picks cuda > mps > cpu. ``half``: autocast to bf16/fp16 on CUDA (weights stay fp32);
    CPU inference is always fp32.
    """

    def __init__(
        self,
        checkpoint: "Checkpoint | str | os.PathLike | None" = None,
        *,
        generator: "nn.Module | None" = None,
        discriminator: "nn.Module | None" = None,
        config: "ModelConfig | None" = None,
        device: "torch.device | str | None" = None,
        half: bool = True,
    ) -> None:
        import torch

        from .checkpoints import Checkpoint, build_models
        from .devices import inference_dtype, select_device
        from .loading import load_checkpoint

        self.device = device if isinstance(device, torch.device) else select_device(device)
        if checkpoint is not None:
            if generator is not None or discriminator is not None:
                raise ValueError("pass either a checkpoint or generator=/discriminator=, not both")
            if not isinstance(checkpoint, Checkpoint):
                checkpoint = load_checkpoint(checkpoint)
            generator, discriminator = build_models(checkpoint, self.device)
            config = checkpoint.config
        elif generator is None or config is None:
            raise ValueError("pass a checkpoint, or generator= and config=")
        else:
            generator = generator.to(self.device).eval()
            if discriminator is not None:
                discriminator = discriminator.to(self.device).eval()
        self.config: ModelConfig = config
        self.layout = LabelLayout.of(config)
        self.G = generator
        self.D = discriminator
        self.dtype = inference_dtype(self.device, half)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike | None = None,
        device: "torch.device | str | None" = None,
        *,
        download: bool = True,
        quiet: bool = False,
        half: bool = True,
    ) -> "Translator":
        """Load a model by name (``stargan-celeba-mini``, bundled, is the default), or a checkpoint path.

        A named model is downloaded on first use unless ``download=False`` or
        ``STARGAN_OFFLINE=1``; a path may be a checkpoint of ours or an official
        ``NNNNNN-G.ckpt``. ``half``: as for the constructor.
        """
        from .model_store import resolve_model

        spec = None if name_or_path is None else str(name_or_path)
        return cls(resolve_model(spec, download=download, quiet=quiet), device=device, half=half)

    # ---- what the model knows ------------------------------------------------------------

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attribute (domain) names the model was trained on, in label order."""
        return tuple(self.config.attributes)

    @property
    def image_size(self) -> int:
        """Side of the square the model works on."""
        return int(self.config.image_size)

    @property
    def has_classifier(self) -> bool:
        """Whether the discriminator is loaded, so attributes can be estimated."""
        return self.D is not None

    @property
    def has_mask(self) -> bool:
        """Whether the generator gives a mask of where it changed each image
        (``--g-output mask``): translation results then carry it."""
        return self.config.g_output == "mask"

    @property
    def default_paste(self) -> str:
        """The paste mode used when none is asked for: ``"mask"`` (the model's own mask) for a
        model that has one, else :data:`photos.paste.DEFAULT_PASTE`."""
        return default_paste(self.has_mask)

    @property
    def exclusive_start(self) -> int:
        """Index of the first exclusive (single-label) domain in :attr:`attributes`: the
        attributes before it are independent on/off attributes (all of them for a CelebA
        model, none for a single-label model, the CelebA block for a joint one)."""
        return self.layout.exclusive_start

    # ---- labels (the model's :class:`~stargan_cli.label_layout.LabelLayout`) -------------

    def parse_targets(self, to: TargetsInput) -> dict[str, float]:
        """``["Blond_Hair", "Male=0"]``, ``"Blond_Hair,Male=0"`` or ``{"Male": 0}`` as a checked dict."""
        return self.layout.parse_targets(to)

    def parse_source(self, source: TargetsInput) -> list[float]:
        """The input's attributes as a 0/1 label: names that are on (the rest off), or a dict."""
        return self.layout.parse_source(source)

    def label_from_scores(self, scores: Sequence[float]) -> list[float]:
        """0/1 source label from classifier probabilities: > 0.5 per multi-label attribute (at
        most one hair colour: the likeliest), argmax among exclusive domains."""
        return self.layout.label_from_scores(scores)

    def target_label(self, source_label: Sequence[float], targets: Mapping[str, float]) -> list[float]:
        """The full generator label (``c_dim`` long, mask included) for ``targets`` on ``source_label``."""
        return self.layout.target_label(source_label, targets)

    def domain_targets(self, source_label: Sequence[float]) -> list[tuple[str, list[float]]]:
        """One generator label per attribute, as the original's test grid: a hair colour set on
        (other colours off), any other multi-label attribute flipped, each exclusive domain."""
        return self.layout.domain_targets(source_label)

    # ---- tensors ---------------------------------------------------------------------------

    def _autocast(self):
        import torch

        if self.device.type == "cuda" and self.dtype != torch.float32:
            return torch.autocast("cuda", dtype=self.dtype)
        return contextlib.nullcontext()

    def generate(self, x: "torch.Tensor", labels: "torch.Tensor") -> "torch.Tensor":
        """Run the generator: images (B, 3, S, S) in [-1, 1] and labels (B, c_dim) -> images
        in [-1, 1] (float32, on the CPU)."""
        return self.generate_with_masks(x, labels)[0]

    def generate_with_masks(
        self, x: "torch.Tensor", labels: "torch.Tensor"
    ) -> tuple["torch.Tensor", "torch.Tensor | None"]:
        """:meth:`generate`, plus the model's masks (B, 1, S, S) in [0, 1] (where it changed
        each image; float32, on the CPU), or None for a model without a mask."""
        import torch

        x, labels = x.to(self.device), labels.to(self.device, torch.float32)
        with torch.inference_mode(), self._autocast():
            if self.has_mask:
                out, mask = self.G(x, labels, return_mask=True)
            else:
                out, mask = self.G(x, labels), None
        return out.float().cpu(), None if mask is None else mask.float().cpu()

    def classify(self, x: "torch.Tensor") -> "torch.Tensor":
        """Attribute probabilities (B, len(attributes)) from the discriminator's class head:
        sigmoid for multi-label attributes, softmax over exclusive domains."""
        import torch

        if self.D is None:
            raise StarganError(NO_CLASSIFIER)
        with torch.inference_mode(), self._autocast():
            _, logits = self.D(x.to(self.device))
        logits = logits.float().cpu()[:, : len(self.attributes)]
        split = self.exclusive_start
        parts = [torch.sigmoid(logits[:, :split])]
        if split < logits.size(1):
            parts.append(torch.softmax(logits[:, split:], dim=1))
        return torch.cat(parts, dim=1)

    # ---- images ------------------------------------------------------------------------------

    def square_tensor(self, square: Image.Image) -> "torch.Tensor":
        """A model-size square (PIL RGB) as the (3, S, S) tensor in [-1, 1] the networks take."""
        return normalize(pil_to_uint8(square))

    def generate_squares(
        self, squares: Sequence[Image.Image], labels: Sequence[Sequence[float]]
    ) -> list[Image.Image]:
        """Run the generator on model-size squares, one generator label (``c_dim`` long) each,
        in one batch; returns the translated squares."""
        return self.generate_squares_with_masks(squares, labels)[0]

    def generate_squares_with_masks(
        self, squares: Sequence[Image.Image], labels: Sequence[Sequence[float]]
    ) -> tuple[list[Image.Image], list[Image.Image] | None]:
        """:meth:`generate_squares`, plus the model's mask of each (grayscale, white =
        changed), or None for a model without a mask."""
        import torch

        x = torch.stack([self.square_tensor(s) for s in squares])
        out, masks = self.generate_with_masks(x, torch.tensor([list(l) for l in labels], dtype=torch.float32))
        return [tensor_to_pil(t) for t in out], None if masks is None else [mask_to_pil(m) for m in masks]

    def estimate_labels(self, squares: Sequence[Image.Image], batch_size: int | None = None) -> list[list[float]]:
        """0/1 source labels of model-size squares from the discriminator (see
        :meth:`label_from_scores`), ``batch_size`` squares at a time (None: all at once)."""
        import torch

        step = batch_size or max(1, len(squares))
        labels: list[list[float]] = []
        for start in range(0, len(squares), step):
            x = torch.stack([self.square_tensor(s) for s in squares[start : start + step]])
            labels += [self.label_from_scores(p) for p in self.classify(x).tolist()]
        return labels

    def prepare(self, item: ImageInput, detect: bool = True, face: int | None = None) -> TranslationResult:
        """Open ``item`` and cut the model-size squares: each face found (left to right, or
        only the 1-based ``face``), or the whole image with ``detect=False``. Nothing runs on
        the model yet; a problem (unreadable file, no face) is in ``error`` of the result."""
        return prepare_photo(item, self.image_size, detect=detect, face=face)

    def _set_sources(
        self, faces: list[Face], x: "torch.Tensor", source_label: list[float] | None, batch_size: int
    ) -> None:
        """Each face's own attributes: estimated from its square ``x[i]``, or ``source_label``."""
        import torch

        if source_label is None:
            probs = torch.cat([self.classify(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
            for f, p in zip(faces, probs.tolist()):
                f.source = dict(zip(self.attributes, p))
                f.source_label = self.label_from_scores(p)
                f.estimated = True
        else:
            for f in faces:
                f.source = dict(zip(self.attributes, source_label))
                f.source_label = list(source_label)

    def _jobs(self, faces: list[Face], targets: dict[str, float] | None) -> list[tuple[int, str, list[float]]]:
        """(face index, output name, generator label) of every square to generate."""
        jobs: list[tuple[int, str, list[float]]] = []
        for i, f in enumerate(faces):
            if targets is None:
                jobs += [(i, name, label) for name, label in self.domain_targets(f.source_label)]
            else:
                jobs.append((i, target_name(targets), self.target_label(f.source_label, targets)))
        return jobs

    def _translate_faces(
        self, faces: list[Face], targets: dict[str, float] | None, source_label: list[float] | None, batch_size: int
    ) -> None:
        """The model step of the photo path: each face's own attributes, then its translated
        squares (``face.outputs``), ``batch_size`` squares at a time on the device."""
        import torch

        x = torch.stack([self.square_tensor(f.crop) for f in faces])
        self._set_sources(faces, x, source_label, batch_size)
        jobs = self._jobs(faces, targets)
        for start in range(0, len(jobs), batch_size):
            chunk = jobs[start : start + batch_size]
            idx = torch.tensor([j[0] for j in chunk])
            labels = torch.tensor([j[2] for j in chunk], dtype=torch.float32)
            out, masks = self.generate_with_masks(x[idx], labels)
            for k, (i, name, _) in enumerate(chunk):
                faces[i].outputs[name] = tensor_to_pil(out[k])
                if masks is not None:
                    faces[i].masks[name] = mask_to_pil(masks[k])

    def translate_many(
        self,
        inputs: Iterable[ImageInput],
        to: TargetsInput | None = None,
        *,
        all_domains: bool = False,
        source: TargetsInput | None = None,
        detect: bool = True,
        face: int | None = None,
        batch_size: int = 16,
        paste: str | None = None,
    ) -> Iterator[TranslationResult]:
        """Translate many images, batching faces on the device; yields one result per input,
        in input order. A bad input gives a result with ``error`` set; the others go on.

        ``to``: the targets (see :meth:`parse_targets`), or ``all_domains=True`` for one
        output per attribute as the original's test grid. ``face``: only the N-th face from
        the left (1-based). ``source``: the input's attributes instead of estimating them.
        ``paste``: how translated faces go back into the photo (:data:`photos.paste.PASTE_MODES`;
        None: :attr:`default_paste`). Each result's ``masks`` holds where the model changed
        each output, for a model that has a mask (:attr:`has_mask`).

        The options are checked (and the targets parsed) when this is called, before any
        input is read.
        """
        check_request(to, all_domains=all_domains, detect=detect, face=face, paste=paste, batch_size=batch_size)
        paste = self.default_paste if paste is None else paste
        check_paste(paste, self.has_mask)
        targets = None if all_domains else self.parse_targets(to)
        source_label = None if source is None else self.parse_source(source)
        if source_label is None and not self.has_classifier:
            raise StarganError(NO_CLASSIFIER)
        model = functools.partial(
            self._translate_faces, targets=targets, source_label=source_label, batch_size=batch_size
        )
        return translate_photos(
            inputs, self.image_size, model, detect=detect, face=face, batch_size=batch_size, paste=paste
        )

    def _one(self, image: ImageInput, **kwargs: Any) -> TranslationResult:
        result = next(self.translate_many([image], **kwargs))
        if result.error:
            raise StarganError(result.error)
        return result

    def __call__(
        self,
        image: ImageInput,
        to: TargetsInput,
        *,
        source: TargetsInput | None = None,
        detect: bool = True,
        face: int | None = None,
        paste: str | None = None,
    ) -> Image.Image:
        """Translate ``image`` (path, PIL image or RGB array) to the targets ``to``.

        With detection the result is the photo (same size) with each face translated and
        brought back as ``paste`` says; with ``detect=False`` it is the model-size square of
        the image taken as a face crop.
        """
        result = self._one(image, to=to, source=source, detect=detect, face=face, paste=paste)
        return result.outputs[result.targets[0]]

    def translate_faces(
        self,
        image: ImageInput,
        to: TargetsInput,
        *,
        source: TargetsInput | None = None,
        face: int | None = None,
    ) -> list[Image.Image]:
        """The translated model-size squares of the faces in ``image``, left to right."""
        result = self._one(image, to=to, source=source, detect=True, face=face)
        return [f.outputs[result.targets[0]] for f in result.faces]

    def translate_all(
        self,
        image: ImageInput,
        *,
        source: TargetsInput | None = None,
        detect: bool = True,
        face: int | None = None,
    ) -> TranslationResult:
        """One output per attribute (the original's test targets);
        :func:`stargan_cli.grid.result_strip` draws it as a row."""
        return self._one(image, all_domains=True, source=source, detect=detect, face=face)

    def translate_squares(
        self,
        squares: Sequence[Image.Image],
        to: TargetsInput,
        *,
        source: TargetsInput | None = None,
    ) -> list[Image.Image]:
        """Translate face crops that are already framed (e.g. a webcam's
        :func:`photos.align.extract_square` output); each is centre-cropped and resized like a
        CelebA image. Returns model-size squares."""
        if not squares:
            return []
        targets = self.parse_targets(to)
        resized = [crop_resize(to_rgb(s), self.image_size) for s in squares]
        if source is None:
            sources = self.estimate_labels(resized)
        else:
            sources = [self.parse_source(source)] * len(squares)
        return self.generate_squares(resized, [self.target_label(s, targets) for s in sources])

    def estimate_attributes(
        self, image: ImageInput, *, detect: bool = True, face: int | None = None
    ) -> dict[str, float]:
        """Probability of each attribute for one face of ``image`` (``face``: 1-based from the
        left; default the largest face) or, with ``detect=False``, for the image as a crop."""
        result = self.prepare(image, detect, face)
        if result.error:
            raise StarganError(result.error)
        chosen = max(result.faces, key=lambda f: f.box.area if f.box is not None else 0.0)
        probs = self.classify(self.square_tensor(chosen.crop)[None])[0].tolist()
        return dict(zip(self.attributes, probs))


__all__ = ["Face", "TranslationResult", "Translator", "check_paste", "check_request", "load_image"]
