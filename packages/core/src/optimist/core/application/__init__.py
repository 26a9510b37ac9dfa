"""The application floor of core: the contract (:class:`Result`, :class:`Application`, claims), the runner every
``compare`` opens with (:func:`prepare`) and the registry of installed applications."""

from optimist.core.application.batching import SMALL_SIDE
from optimist.core.application.contract import (
    TABLE_COLUMNS,
    Application,
    Result,
    claim,
    claim_pair,
    settings_help,
)
from optimist.core.application.registry import GROUP, available_applications
from optimist.core.application.runner import (
    Chunk,
    Run,
    check_compatible,
    prepare,
    resolve_data,
    resolve_models,
    run_settings,
)

__all__ = ["GROUP", "SMALL_SIDE", "TABLE_COLUMNS", "Application", "Chunk", "Result", "Run", "available_applications",
           "check_compatible", "claim", "claim_pair", "prepare", "resolve_data", "resolve_models", "run_settings",
           "settings_help"]
