"""Options declared once. The build's own options (config.Config) and each analysis's options (a frozen dataclass
named in its registry entry, analyses/registry.py) are dataclass fields made with `option()`: the command line,
the TOML keys, the validation that reports every bad value at once, the about page's list of settings and the
configuration reference all derive from these fields, as mkdocs derives a plugin's settings from its config
schema. Every key is global: `top_k` is one TOML key and one flag (`--top-k`) whichever analysis owns it."""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

META_KEY = "option"  # the dataclass field metadata key of an option's Spec


@dataclass(frozen=True)
class Spec:
    """What an option declares besides its name, type and default.

    minimum: the least whole number allowed; choices: the names allowed; unset: what None (or an empty list) means,
    where 'no limit' (an optional number) or 'none' would not say it; check: `(key, value, errors) -> value`, the
    validation of an option no type rule covers (it appends one message per bad value to `errors` and returns None);
    shown: listed on the about page and in the meta table as `option.<key>` (not where the site was written, nor where
    the corpus pass ran); reproduce: among the options that reproduce a build (meta `config`, the archive's
    config.json); aliases: other TOML keys for it; cli: extra keyword arguments of its click option."""

    help: str
    minimum: int | None = None
    choices: tuple[str, ...] = ()
    unset: str = ""
    check: Callable[[str, Any, list[str]], Any] | None = None
    shown: bool = True
    reproduce: bool = True
    aliases: tuple[str, ...] = ()
    cli: tuple[tuple[str, Any], ...] = ()
    name_only: bool = False  # shown by its last path component (a model folder's name, not where it is)
    values: str = ""  # the values it takes, in words, where `check` decides them (the configuration reference)


def option(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field that is an option (see Spec for the keywords)."""
    return field(default=default, metadata={META_KEY: Spec(help, **spec)})


@dataclass(frozen=True)
class Declared:
    """One option as the command line, the TOML file, the validation and the about page see it."""

    key: str
    default: Any
    kind: str  # 'int', 'str', 'path', 'paths', 'value' (a label or an index: its own check)
    optional: bool  # None is allowed (and is the default where the option is unset)
    spec: Spec
    owner: type  # the options dataclass it belongs to

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    def coerce(self, key: str, value: Any, errors: list[str]) -> Any:
        """The value checked and converted, or None after appending one message to `errors` (`key`: as written)."""
        spec = self.spec
        if spec.check is not None:
            return spec.check(key, value, errors)
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(f"{key}: expected an integer, got {value!r}")
                return None
            if spec.minimum is not None and value < spec.minimum:
                errors.append(f"{key}: must be at least {spec.minimum}, got {value}")
                return None
            return value
        if self.kind == "paths":
            items = value if isinstance(value, (list, tuple)) else [value]
            if not all(isinstance(v, (str, Path)) for v in items):
                errors.append(f"{key}: expected a path or a list of paths, got {value!r}")
                return None
            return tuple(Path(v) for v in items)
        if self.kind == "path":
            if not isinstance(value, (str, Path)) or str(value) == "":
                errors.append(f"{key}: expected a path, got {value!r}")
                return None
            return Path(value)
        if spec.choices:
            if value not in spec.choices:
                errors.append(f"{key}: expected one of {', '.join(spec.choices)}, got {value!r}")
                return None
            return value
        if not isinstance(value, str) or not value:
            errors.append(f"{key}: expected a text, got {value!r}")
            return None
        return value

    @property
    def values(self) -> str:
        """The values the option takes, in words (the configuration reference)."""
        spec = self.spec
        if spec.values:
            return spec.values
        if self.kind == "int":
            return f"integer, at least {spec.minimum}" if spec.minimum is not None else "integer"
        if spec.choices:
            return "one of " + ", ".join(f"`{c}`" for c in spec.choices)
        return {"path": "path", "paths": "path or list of paths"}.get(self.kind, "text")

    def shown_value(self, value: Any) -> str:
        """The value as the about page and the meta table show it: an unset option says what it means ('all',
        'none', 'no limit' for an optional number), never '(default)'; paths show their file names only (an
        absolute path must not reach a published report)."""
        if value is None or value == ():
            return self.spec.unset or ("no limit" if self.kind == "int" else "none")
        if isinstance(value, tuple):
            return ", ".join(Path(v).name for v in value)
        if isinstance(value, Path) or self.spec.name_only:
            return Path(value).name
        if isinstance(value, bool):
            return "yes" if value else "no"
        return str(value)


def _kind(annotation: Any) -> tuple[str, bool]:
    """(kind, optional) of a field's resolved annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    optional = type(None) in typing.get_args(annotation)
    base = args[0] if optional and len(args) == 1 else annotation
    if base is int:
        return "int", optional
    if base is Path:
        return "path", optional
    if typing.get_origin(base) is tuple:
        return "paths", optional
    if base is str:
        return "str", optional
    return "value", optional


def declared(options: type) -> list[Declared]:
    """Every option of an options dataclass, in field order."""
    hints = typing.get_type_hints(options)
    found = []
    for f in dataclasses.fields(options):
        spec = f.metadata.get(META_KEY)
        if spec is None:
            continue
        kind, optional = _kind(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        found.append(Declared(f.name, default, kind, optional, spec, options))
    return found


def check_device(key: str, value: Any, errors: list[str]) -> Any:
    if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
        errors.append(f"{key}: expected auto, cpu, cuda, cuda:N or mps, got {value!r}")
        return None
    return value


def check_name(what: str) -> Callable[[str, Any, list[str]], Any]:
    """The check of a non-empty text, named in the message ('a model name or path')."""

    def check(key: str, value: Any, errors: list[str]) -> Any:
        if not isinstance(value, str) or not value:
            errors.append(f"{key}: expected {what}, got {value!r}")
            return None
        return value

    return check
