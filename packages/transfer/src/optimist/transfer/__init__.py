"""optimist.transfer: do adversarially robust features transfer better?

:func:`compare` is the application: the models' penultimate features on a target task (a cross-validated
logistic-regression probe, few-shot draws shared by every model, optionally full or last-block fine-tuning),
one :class:`~optimist.core.application.Result` with paired gains over the first model (its demo and
``optimist transfer --model L=SPEC ... --data SPEC`` are that same call). :func:`run_transfer` is the
lower-level loop over sources, targets, protocols, shots and seeds, returning one tidy DataFrame.
"""

from optimist.core.application import Application
from optimist.transfer._application import TransferSettings, compare
from optimist.transfer.features import FeatureCache, compute_features, extract_features
from optimist.transfer.finetune import FinetuneConfig, finetune, finetune_accuracy
from optimist.transfer.ladder import LadderSettings, transfer_ladder
from optimist.transfer.probe import fit_probe, probe_accuracy
from optimist.transfer.protocols import PROTOCOLS, run_transfer
from optimist.transfer.results import accuracy_table, gains, load_results, save_results
from optimist.transfer.sources import load_sources, source_from_model
from optimist.transfer.splits import (
    Target,
    dataset_target,
    digits_target,
    fashion_split,
    folder_target,
    k_shot_indices,
    load_target,
)

# The zoo's Fashion-MNIST ladder (cached by the other demos) as sources; digits, a domain they never saw, as target.
_SOURCES = ("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.05",
            "fashion-mnist/small-cnn/linf-0.1")

APPLICATION = Application(
    name="transfer",
    compare=compare,
    settings=TransferSettings,
    description="Transfer learning with robust features: linear probes on each model's penultimate features for "
                "a target task, few-shot (the same labelled images for every model) and optionally fine-tuning, "
                "with paired gains over the first model.",
    demo_models=_SOURCES,
    demo_data="digits?size=28",
    demo_settings={"train_data": "digits?size=28&split=train", "train_per_class": 0},
    quick_models=("fashion-mnist/small-cnn/standard", "fashion-mnist/small-cnn/linf-0.1"),
    quick_settings={"n": 300, "train_per_class": 60, "shots": [1, 5], "seeds": 2},
    tiny_settings={"n": 20, "shots": ["2", "all"], "seeds": 2, "test_fraction": 0.4, "folds": 2},
    labels_are_model_classes=False,
)

__all__ = [
    "APPLICATION", "FeatureCache", "FinetuneConfig", "PROTOCOLS", "Target", "TransferSettings", "accuracy_table",
    "compare", "compute_features", "dataset_target", "digits_target", "extract_features", "fashion_split",
    "finetune", "finetune_accuracy", "fit_probe", "folder_target", "gains", "k_shot_indices", "LadderSettings",
    "load_results", "load_sources", "load_target", "probe_accuracy", "run_transfer", "save_results",
    "source_from_model", "transfer_ladder",
]
