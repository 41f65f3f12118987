"""``stargan eval``: judging StarGAN models with an independent attribute classifier.

Modules: :mod:`.metrics` (pure metric functions, FID math), :mod:`.classifier` (the ResNet-18
attribute classifier: training, caching, loading), :mod:`.fid` (Inception-v3 or stand-in
features), :mod:`.evaluate` (the tensor-level loop over one generator), :mod:`.runner`
(datasets, checkpoints and all of the above put together), :mod:`.report` (tables, JSON).

Typical use::

    from stargan_cli.evaluation import EvalSettings, evaluate_models, find_classifier, load_classifier

    classifier = load_classifier(find_classifier(128))
    report = evaluate_models([("mine", Path("run/final.pt"))], classifier, EvalSettings(n=500))
    report.to_dict()
"""

from __future__ import annotations

from .classifier import (
    AttributeClassifier,
    TrainSettings,
    default_classifier_path,
    find_classifier,
    load_classifier,
    save_classifier,
    train_classifier,
)
from .fid import FeatureExtractor, choose_extractor, inception_extractor, standin_extractor
from .runner import EvalReport, EvalSettings, ModelEvaluation, evaluate_models, train_celeba_classifier

__all__ = [
    "AttributeClassifier",
    "EvalReport",
    "EvalSettings",
    "FeatureExtractor",
    "ModelEvaluation",
    "TrainSettings",
    "choose_extractor",
    "default_classifier_path",
    "evaluate_models",
    "find_classifier",
    "inception_extractor",
    "load_classifier",
    "save_classifier",
    "standin_extractor",
    "train_celeba_classifier",
    "train_classifier",
]
