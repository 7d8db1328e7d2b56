"""Stevens & Su's (2020) edit-identification study on the report's model (`reportgen study edits`,
commands/study.py runs it and writes it into the report).

A classifier (the report's encoder with a new two-class head, fully fine-tuned; or a user's classifier) learns
whether a sentence contains an edit. On the edited test sentences, each source ranks the words, and the measure
(studies/measure.py) says whether the gold words come first:

- `cls_sum`: the final layer's attention from the classifier's read-out token summed over heads (the paper's:
  [CLS] for a BERT-style classifier; the last token for a GPT-2 or Llama classifier, which pools it);
- `layer`: the same for every layer; `head`: every single head;
- `integrated_gradients`: the attribution of each word to the "edited" logit (attribution.py);
- `random`: random rankings of the same words.

Attention to a word is the sum over its tokens, special tokens are dropped. The results go into the report's
database (tables study_*) and the site is rendered again with the study page, studies/edits.html.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..align import align, held, to_words
from ..analyses.agreement import readout_rows
from ..analyses.attribution import Target, baseline_token, classifier_readout, integrated_gradients
from ..annotate import annotate
from ..config import DEFAULT_MODEL
from ..errors import InputError, ModelError
from ..models import default_model_path, model_files, wrap
from ..provenance import combined_sha256
from ..vocab import ALL_EDITS, EDIT_LABELS, EDIT_TYPES, STUDY, SUBSETS
from . import measure
from .data import Example, SimpleWord, synthetic


@dataclass(frozen=True)
class StudyConfig:
    model: str
    out: Path = Path("site")
    db: Path | None = None
    data: Path | None = None
    classifier: Path | None = None
    examples: int = 4000
    epochs: int = 4
    batch_size: int = 16
    learning_rate: float = 1e-4
    attribution_steps: int = 20
    max_length: int = 128
    seed: int = 0

    @property
    def db_path(self) -> Path:
        return self.db if self.db is not None else self.out / "report.duckdb"


@dataclass
class StudySummary:
    metrics: dict[str, float]
    figures: list[tuple]
    timings: dict[str, float]
    warnings: list[str]


def report_examples(store, config: StudyConfig) -> list[Example]:
    """Synthetic edits of the report's corpus sentences (their words and tags from the database)."""
    texts = store.sentences("corpus")
    if not texts:
        raise InputError(f"{config.db_path}: the report has no corpus sentences to edit; pass --data FILE.jsonl")
    words: dict[int, list[SimpleWord]] = {}
    for w in store.words_of(texts[0].sentence_id, texts[-1].sentence_id):
        words.setdefault(w.sentence_id, []).append(SimpleWord(w.text, w.tag, w.is_punct, w.char_start, w.char_end))
    return synthetic([(s.text, words.get(s.sentence_id, [])) for s in texts], config.examples, config.seed)


def check_model(config: StudyConfig, meta: dict[str, str]) -> None:
    """The study fine-tunes the report's own model: the model given must be the one the report was built with."""
    if combined_sha256(model_files(config.model)) != meta.get("model_sha256"):
        raise InputError(f"--model {config.model}: the report in {config.db_path} was built with another model "
                         f"({meta.get('model', 'unknown')}); pass the report's --model, or --classifier")


def load_classifier(path: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if not (path / "config.json").is_file():
        raise ModelError(f"--classifier {path}: not a model folder (no config.json there); pass a fine-tuned "
                         f"sequence classifier's folder")
    try:
        model = AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager")
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelError(f"--classifier {path}: cannot load it ({str(exc).splitlines()[0]})") from None
    if model.config.num_labels != 2:
        raise ModelError(f"--classifier {path}: has {model.config.num_labels} classes; the study needs two "
                         f"(0 unedited, 1 edited)")
    return model.eval(), tokenizer


def _batches(examples: list[Example], size: int, order=None):
    order = range(len(examples)) if order is None else order
    order = list(order)
    for i in range(0, len(order), size):
        yield [examples[j] for j in order[i : i + size]]


def _encode(tokenizer, examples: list[Example], max_length: int):
    return tokenizer([e.text for e in examples], padding=True, truncation=True, max_length=max_length,
                     return_tensors="pt")


def fine_tune(model_path: str, train: list[Example], validation: list[Example], config: StudyConfig, progress):
    """The report's encoder with a new two-class head, every weight trained (AdamW, linear decay), the epoch with
    the best validation accuracy kept. Returns (model, tokenizer, validation accuracy)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup
    from transformers.utils import logging

    logging.set_verbosity_error()  # the new head's "newly initialized" notice is expected, not news
    path = default_model_path() if model_path == DEFAULT_MODEL else Path(model_path)
    torch.manual_seed(config.seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        path, num_labels=2, id2label=EDIT_LABELS, label2id={v: k for k, v in EDIT_LABELS.items()},
        attn_implementation="eager")
    tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.01)
    steps = config.epochs * -(-len(train) // config.batch_size)
    schedule = get_linear_schedule_with_warmup(optimiser, int(0.1 * steps), steps)
    rng = np.random.default_rng(config.seed)
    best, best_state = -1.0, None
    with progress.stage("fine-tune", steps) as advance:
        for _epoch in range(config.epochs):
            model.train()
            for batch in _batches(train, config.batch_size, rng.permutation(len(train))):
                inputs = _encode(tokenizer, batch, config.max_length)
                out = model(**inputs, labels=torch.tensor([e.label for e in batch]))
                out.loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimiser.step()
                schedule.step()
                optimiser.zero_grad()
                advance(1)
            accuracy = float(np.mean(predict(model, tokenizer, validation, config) == [e.label for e in validation])) \
                if validation else 0.0
            if accuracy > best:
                best, best_state = accuracy, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    return model.eval(), tokenizer, best


def predict(model, tokenizer, examples: list[Example], config: StudyConfig) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for batch in _batches(examples, 64):
            out.append(model(**_encode(tokenizer, batch, config.max_length)).logits.argmax(-1).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Measured:
    """One edited test example, ready for the measure."""

    example: Example
    words: tuple  # spaCy words of the text
    gold: frozenset[int]  # word indexes
    attention: np.ndarray  # [L, H, W] attention from the classifier's read-out token, summed into words
    attribution: np.ndarray | None  # [W] integrated gradients, summed into words
    flagged: bool = True  # whether the classifier predicted the sentence as edited
    converged: bool = True  # whether its integrated gradients converged (see vocab.converged)


def _gold_words(words, spans) -> frozenset[int]:
    return frozenset(w.word_idx for w in words for start, end in spans
                     if min(end, w.char_end) > max(start, w.char_start))


def measure_examples(model, tokenizer, examples: list[Example], config: StudyConfig, nlp, progress,
                     with_attribution: bool = True, predicted: dict[int, int] | None = None) -> list[Measured]:
    """Attention from the classifier's read-out token ([CLS], or the last token for a GPT-2 or Llama classifier;
    Stevens & Su read [CLS]) and integrated gradients of every edited example, merged into its spaCy words;
    `predicted`: the classifier's prediction by example id (flagged: predicted edited)."""
    import torch

    loaded = wrap(model, tokenizer, "classifier", config.max_length)
    readout = classifier_readout(loaded.info.causal)
    baseline = baseline_token(loaded) if with_attribution else None
    predicted = predicted or {}
    out = []
    edited = [e for e in examples if e.label == 1]
    with progress.stage("measure", len(edited)) as advance:
        for example, words in zip(edited, annotate([e.text for e in edited], nlp)):
            gold = _gold_words(words, example.gold)
            enc = tokenizer(example.text, return_offsets_mapping=True, return_special_tokens_mask=True,
                            truncation=True, max_length=config.max_length)
            special = [bool(s) for s in enc["special_tokens_mask"]]
            word_of = align([tuple(o) for o in enc["offset_mapping"]], special, words)
            present = {w for w in word_of if w is not None}
            if not gold or not gold <= present:  # a gold word lost to truncation cannot be ranked
                advance(1)
                continue
            with torch.inference_mode():
                attentions = model(input_ids=torch.tensor([enc["input_ids"]]), output_attentions=True).attentions
            (row,) = readout_rows(readout, len(enc["input_ids"]))
            read = np.stack([a[0, :, row, :].double().numpy() for a in attentions])  # [L, H, T]
            scores = to_words(read, word_of, len(words))
            attribution, converged = None, True
            if with_attribution:
                found = integrated_gradients(loaded, tuple(enc["input_ids"]), Target("class", "", (), 1, readout),
                                             baseline, held(special, loaded.info.causal),
                                             config.attribution_steps)
                attribution = to_words(found.scores, word_of, len(words))
                converged = not found.delta_too_large
            out.append(Measured(example, tuple(words), gold, scores, attribution,
                                predicted.get(example.example_id, 1) == 1, converged))
            advance(1)
    return out


def figures(measured: list[Measured]) -> list[tuple]:
    """`study_figures` rows: for each subset (the sentences the classifier flagged as edited, as Stevens & Su
    measure, and every measured one), every edit type (and all together), every source and every measure, the
    share of examples with its bootstrap interval (random: the interval over random seeds)."""
    rows = []
    kinds = sorted({m.example.edit_type for m in measured}, key=lambda k: (k not in EDIT_TYPES, k))
    for subset, kind in ((s, k) for s in SUBSETS for k in [ALL_EDITS] + kinds):
        group = [m for m in measured if (kind == ALL_EDITS or m.example.edit_type == kind)
                 and (subset == "all" or m.flagged)]
        if not group:
            continue
        golds = [m.gold for m in group]
        resampled = measure.bootstrap_indexes(len(group), measure.SEED)
        n_layers, n_heads = group[0].attention.shape[:2]

        def add(source, layer, head, scores):
            hits = measure.judge_all(scores, golds)
            for j, name in enumerate(measure.MEASURES):
                f = measure.share(hits[:, j], resampled)
                rows.append((STUDY, subset, kind, source, layer, head, name, f.value, f.low, f.high, f.n))

        add("cls_sum", n_layers - 1, None, [m.attention[-1].sum(0) for m in group])
        for layer in range(n_layers):
            add("layer", layer, None, [m.attention[layer].sum(0) for m in group])
            for head in range(n_heads):
                add("head", layer, head, [m.attention[layer, head] for m in group])
        if all(m.attribution is not None for m in group):
            add("integrated_gradients", None, None, [m.attribution for m in group])
        for j, f in enumerate(measure.random_baseline([len(m.words) for m in group], golds)):
            rows.append((STUDY, subset, kind, "random", None, None, measure.MEASURES[j], f.value, f.low, f.high,
                         f.n))
    return rows
