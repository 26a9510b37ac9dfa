"""optimist.transfer: do adversarially robust features transfer better?

Fixed-feature transfer (cached penultimate features, a cross-validated logistic-regression probe), full and
last-block fine-tuning with one budget for every source, and few-shot sampling, run over standard and robust
zoo models on held-out targets, reported as one tidy DataFrame with tables and plots.
"""

from optimist.transfer.features import (
    FeatureCache,
    compute_features,
    dataset_fingerprint,
    default_cache,
    extract_features,
    model_fingerprint,
)
from optimist.transfer.finetune import MODES, FinetuneConfig, finetune, finetune_accuracy, last_block
from optimist.transfer.probe import DEFAULT_CS, chosen_C, fit_probe, probe_accuracy
from optimist.transfer.protocols import ALL, COLUMNS, DEFAULT_SHOTS, PROTOCOLS, parse_shots, run_transfer
from optimist.transfer.results import (
    accuracy_table,
    gains,
    load_results,
    save_results,
    source_table,
    summarise,
)
from optimist.transfer.sources import (
    DEFAULT_SOURCES,
    L2_SOURCES,
    PAIR_SOURCES,
    Source,
    load_sources,
    source_from_model,
)
from optimist.transfer.splits import (
    SOURCE_CLASSES,
    TARGET_CLASSES,
    Target,
    check_disjoint,
    dataset_target,
    digits_target,
    fashion_split,
    folder_target,
    k_shot_indices,
    load_target,
)

__all__ = [
    "ALL", "COLUMNS", "DEFAULT_CS", "DEFAULT_SHOTS", "DEFAULT_SOURCES", "FeatureCache", "FinetuneConfig",
    "L2_SOURCES", "MODES", "PAIR_SOURCES", "PROTOCOLS", "SOURCE_CLASSES", "Source", "TARGET_CLASSES", "Target",
    "accuracy_table", "check_disjoint", "chosen_C", "compute_features", "dataset_fingerprint", "dataset_target",
    "default_cache", "digits_target", "extract_features", "fashion_split", "finetune", "finetune_accuracy",
    "fit_probe", "folder_target", "gains", "k_shot_indices", "last_block", "load_results", "load_sources",
    "load_target", "model_fingerprint", "parse_shots", "probe_accuracy", "run_transfer", "save_results",
    "source_from_model", "source_table", "summarise",
]
