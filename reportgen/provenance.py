"""Where a report comes from: the build date (SOURCE_DATE_EPOCH, parsed here only), the hash of each set of input
files, the meta table (versions, the model's shape, every option used) and the options that reproduce a build."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
from pathlib import Path

from . import __version__
from .annotate import SPACY_MODEL
from .citation import NOT_RECORDED, report_hash
from .config import DEFAULT_MODEL, Config
from .corpus import SourceFile, default_corpus, default_probes
from .errors import ConfigError
from .models import LoadedModel, device_of
from .store import SCHEMA_VERSION

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")  # a Hugging Face hub id: owner/name
HUB_CACHE = re.compile(r"models--([^/]+?)--([^/]+)/snapshots/([0-9a-f]{40})")  # the hub cache's folder of a revision

DATE_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def source_epoch() -> int | None:
    """SOURCE_DATE_EPOCH (reproducible-builds.org) as whole seconds, None when it is not set; a bad value is a
    one-line error. A date read from the clock would make two builds of the same inputs differ."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    try:
        seconds = int(raw)
        datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise ConfigError(f"SOURCE_DATE_EPOCH={raw!r}: expected whole seconds since 1970-01-01 UTC; "
                          f"fix or unset it") from None
    return seconds


def source_date() -> str:
    """The build date from SOURCE_DATE_EPOCH, or '' when it is not set."""
    seconds = source_epoch()
    if seconds is None:
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime(DATE_FORMAT)


def epoch_of(date: str) -> int | None:
    """A build date as `source_date` writes it -> seconds since 1970 (None for '')."""
    if not date:
        return None
    when = datetime.datetime.strptime(date, DATE_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp())


def combined_sha256(files: list[SourceFile]) -> str:
    """One hash per set of files: the sha256 of the files' hex sha256 values joined in reading order (what the
    about page explains)."""
    return hashlib.sha256("".join(f.sha256 for f in files).encode()).hexdigest()


def upstream_model(name: str) -> dict[str, str]:
    """Where the model comes from, as far as its files say: `model_upstream` (its Hugging Face hub id),
    `model_upstream_revision` (the hub commit) and `model_upstream_source` (where they were read), NOT_RECORDED
    where unknown. In order: the default model's package metadata (it names the model it packages; its config's
    `_name_or_path` names the model that one was trained from); a folder of the hub's cache
    (models--owner--name/snapshots/<commit>); the `_name_or_path` of config.json where it is a hub id (the name
    the model was loaded by when it was saved: for a fine-tuned model, possibly the model it was tuned from)."""
    import importlib.metadata

    found = {"model_upstream": NOT_RECORDED, "model_upstream_revision": NOT_RECORDED,
             "model_upstream_source": NOT_RECORDED}
    if name == DEFAULT_MODEL:
        try:
            package = importlib.metadata.metadata(DEFAULT_MODEL)
        except importlib.metadata.PackageNotFoundError:
            return found
        ids = HUB_ID.findall(package.get("Summary") or "")
        if ids:
            found |= {"model_upstream": ids[0], "model_upstream_source": f"the summary of the installed package "
                                                                       f"{DEFAULT_MODEL} {package['Version']}"}
        return found
    path = Path(name).resolve()
    cached = HUB_CACHE.search(path.as_posix())
    if cached:
        return found | {"model_upstream": f"{cached[1]}/{cached[2]}", "model_upstream_revision": cached[3],
                        "model_upstream_source": "the path of the Hugging Face cache it was loaded from"}
    config = (path if path.is_dir() else path.parent) / "config.json"
    try:
        saved = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    except (OSError, ValueError):
        saved = {}
    given = str(saved.get("_name_or_path", "")) if isinstance(saved, dict) else ""
    if HUB_ID.fullmatch(given) and not Path(given).exists():
        source = "config.json's _name_or_path (the name it was saved under; possibly the model it was tuned from)"
        found |= {"model_upstream": given, "model_upstream_source": source}
        if saved.get("_commit_hash"):
            found["model_upstream_revision"] = str(saved["_commit_hash"])
    return found


def spacy_pipeline(name: str = SPACY_MODEL) -> dict[str, str]:
    """The spaCy pipeline's name and version as its installed package's meta.json gives them (`spacy_model`,
    `spacy_model_version`), without loading it."""
    import spacy.util

    try:
        found = spacy.util.get_model_meta(spacy.util.get_package_path(name))
    except (OSError, ValueError, ImportError):
        return {"spacy_model": name, "spacy_model_version": NOT_RECORDED}
    return {"spacy_model": f"{found.get('lang', '')}_{found.get('name', '')}".strip("_") or name,
            "spacy_model_version": str(found.get("version", NOT_RECORDED))}


def meta(config: Config, loaded: LoadedModel, files: list[SourceFile], date: str) -> dict[str, str]:
    """The meta table of a build (`date`: the build date as `source_date` gives it, '' for none)."""
    import duckdb
    import spacy
    import torch
    import transformers

    info = loaded.info

    def combined(role: str) -> dict[str, str]:
        # left out where the set is empty: the hash of nothing would identify nothing
        found = [f for f in files if f.role == role]
        key = {"probe": "probes_sha256"}.get(role, f"{role}_sha256")
        return {key: combined_sha256(found)} if found else {}

    def names(role: str, most: int = 10) -> str:
        # the files as source_files records them (relative names, never where they were on this machine)
        found = [f.name for f in files if f.role == role]
        if len(found) > most:
            return ", ".join(found[:most]) + f" and {len(found) - most} more (every file is listed under Sources)"
        return ", ".join(found)

    values = {
        "schema_version": SCHEMA_VERSION, "reportgen_version": __version__, "model": info.name,
        "architecture": info.architecture, "n_layers": str(info.n_layers), "n_heads": str(info.n_heads),
        "d_model": str(info.d_model), "d_head": str(info.d_head), "max_length": str(info.max_length),
        "causal": str(info.causal).lower(),
        **combined("corpus"), **combined("probe"), **combined("model"),
        "python_version": platform.python_version(),
        "torch_version": torch.__version__, "transformers_version": transformers.__version__,
        "spacy_version": spacy.__version__, "duckdb_version": duckdb.__version__,
        **spacy_pipeline(), **upstream_model(config.model), "build_date": date,
    }
    used = {"model": info.name, "corpus": names("corpus"), "probes": names("probe"),
            "max_length": str(info.max_length), "device": device_of(loaded).type,
            "dtype": str(next(loaded.model.parameters()).dtype).removeprefix("torch.")}
    shown = config.options(used)
    if "top_k" in shown:  # the search's k, which the overview names
        values["top_k"] = shown["top_k"]
    values.update({f"option.{k}": v for k, v in shown.items()})
    values["config"] = reproducing_options(config)
    values["report_sha256"] = report_hash(values)
    return values


def reproducing_options(config: Config) -> str:
    """The options a rebuild needs, as JSON (`reportgen archive` writes them as config.json): every option but the
    output paths and where the pass ran; the model and the inputs by their names."""
    values = {d.key: value for d, value in config.declared() if d.spec.reproduce}
    values["model"] = Path(config.model).name
    # the inputs by name, in reading order (the archive holds them under these names)
    values["corpus"] = [Path(p).name for p in (config.corpus or default_corpus())]
    values["probes"] = Path(config.probes or default_probes()).name
    return json.dumps(values, sort_keys=True)
