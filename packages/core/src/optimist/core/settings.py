"""Validated, frozen settings for applications: unknown keys, wrong types and out-of-range values are errors.

An application declares its settings as a frozen dataclass deriving from :class:`Settings`, each field made
with :func:`setting` (default, one-line help, optional bounds or choices). ``Settings.from_mapping`` is the
one way settings come in, from Python keywords, ``--set KEY=VALUE`` or a saved ``settings.json``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Mapping

from optimist.core.errors import SettingsError


def setting(default: Any, help: str, *, minimum: float | None = None, maximum: float | None = None,
            choices: tuple | None = None) -> Any:
    """A settings field: its default, a one-line meaning, and the bounds or choices it must respect."""
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("setting defaults must be immutable (use a tuple)")
    return dataclasses.field(default=default, metadata=meta)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """``value`` as type ``tp`` when it is one (ints are accepted for floats, lists for tuples), else an error."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except SettingsError as e:
                errors.append(str(e))
        if len(errors) == 1 and type(None) in args:
            raise SettingsError(f"{errors[0]} (or null, the automatic choice)")
        raise SettingsError(f"setting {name!r} must be {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"setting {name!r} must be a list, e.g. --set '{name}=[...]', got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(name, v, args[0]) for v in value)
        if args and len(args) != len(value):
            raise SettingsError(f"setting {name!r} needs {len(args)} values, got {len(value)}")
        return tuple(_coerce(name, v, a) for v, a in zip(value, args)) if args else tuple(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise SettingsError(f"setting {name!r} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise SettingsError(f"setting {name!r} must be an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise SettingsError(f"setting {name!r} must be a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise SettingsError(f"setting {name!r} must be text, got {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise SettingsError(f"setting {name!r} must be {_type_name(tp)}, got {value!r}")


def _check_range(name: str, value: Any, meta: Mapping) -> None:
    items = value if isinstance(value, tuple) else (value,)
    for v in items:
        if v is None:
            continue
        if meta.get("choices") is not None and v not in meta["choices"]:
            raise SettingsError(f"setting {name!r} must be one of {', '.join(map(str, meta['choices']))}; got {v!r}")
        if meta.get("minimum") is not None and isinstance(v, (int, float)) and v < meta["minimum"]:
            raise SettingsError(f"setting {name!r} must be >= {meta['minimum']}, got {v!r}")
        if meta.get("maximum") is not None and isinstance(v, (int, float)) and v > meta["maximum"]:
            raise SettingsError(f"setting {name!r} must be <= {meta['maximum']}, got {v!r}")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    """A settings class's resolved field types (resolved once: settings objects are made on hot paths, e.g. per
    ``pgd`` call)."""
    return typing.get_type_hints(cls)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of every application's settings: frozen, typed, validated on construction."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = _coerce(f.name, getattr(self, f.name), hints.get(f.name, Any))
            _check_range(f.name, value, f.metadata)
            object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Checks across fields; subclasses raise :class:`SettingsError`."""

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None, **overrides: Any):
        """Settings from a mapping (and keywords); an unknown key is an error that lists the valid ones."""
        merged = {**(values or {}), **overrides}
        unknown = sorted(set(merged) - set(cls.keys()))
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
                                f"valid keys: {', '.join(cls.keys())}")
        return cls(**merged)

    @classmethod
    def merged(cls, settings: "Settings | None", options: Mapping[str, Any]):
        """``settings`` (default: every field's default) with the keyword ``options`` applied and validated: how a
        function that takes a settings object also takes its fields as keywords.

        >>> from optimist.core.attacks.pgd import PGDSettings
        >>> PGDSettings.merged(PGDSettings(steps=20), {"restarts": 2}).to_dict()["steps"]
        20
        """
        if settings is None:
            return cls.from_mapping(options)
        if not isinstance(settings, cls):
            raise SettingsError(f"settings must be a {cls.__name__}, got {type(settings).__name__}")
        return cls.from_mapping({**dataclasses.asdict(settings), **options}) if options else settings

    def replace(self, **changes: Any):
        """A copy with ``changes`` applied (validated like any other)."""
        return type(self).from_mapping({**self.to_dict(), **changes})

    def to_dict(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(key, default, meaning) for each setting, for ``--help`` and the report."""
        return [(f.name, f.default, f.metadata.get("help", "")) for f in dataclasses.fields(cls)]
