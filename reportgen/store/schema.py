"""The database's tables: the schema reference of the docs in code (docs/generate.py writes it from here). Table
names are constants, never data.

The tables every report has are here (CORE, and the study tables that `reportgen study` adds), with those of the
analyses reportgen ships, which their registry entries name (analyses/registry.py); an analysis may declare new
tables in its own module.
"""

from __future__ import annotations

from .analysis_tables import (AGREEMENT_BASELINES, AGREEMENT_RANKS, AGREEMENT_TESTS, ATTRIBUTION_AGREEMENT,
    ATTRIBUTION_TARGETS, ATTRIBUTIONS, BASE_COUNTS, CLASS_PROBABILITIES, CUT_TIES, DEP_ACCURACY, FAITHFULNESS,
    HEAD_DISTANCE, HEAD_IMPORTANCE, HEAD_IMPORTANCE_SENTENCES, HEAD_MAP, HEAD_ROLES, HEAD_STATS, IMPORTANCE_REFERENCE,
    NEIGHBOURS)
from .checks import CONTROL_DEP_ACCURACY, CONTROL_HEAD_STATS, CONTROL_ROLES, DEP_TABLE1, ROLE_SENSITIVITY
from .detector_tables import DETECTOR_ABLATION, DETECTOR_ROLES, HEAD_DETECTORS
from .lens_tables import LOGIT_LENS, LOGIT_LENS_TOP
from .table import Table  # noqa: F401 (declared here for every level that names tables)

SCHEMA_VERSION = "9"

# A corpus token's category in each annotation facet, from `tokens t LEFT JOIN words w`: 'special' for a special
# token (no word), 'none' for a word outside any entity; what the base rates, exBERT's aggregates and their numpy
# counts (match_counts) all count.
CATEGORIES_SQL = ("coalesce(w.pos, 'special') AS pos, coalesce(w.tag, 'special') AS tag, "
                  "coalesce(w.dep, 'special') AS dep, "
                  "CASE WHEN w.word_idx IS NULL THEN 'special' ELSE coalesce(w.ent_type, 'none') END AS ent")



META = Table("meta", "one fact about the report: a key and its value", (
    ("key", "VARCHAR PRIMARY KEY", "schema_version, reportgen_version, model, architecture, n_layers, n_heads, "
                                   "d_model, d_head, max_length, causal, top_k, corpus_sha256, probes_sha256, "
                                   "model_sha256 (each the sha256 of its files' hex sha256 values joined without "
                                   "separators, in reading order; the model's files by name), library versions, "
                                   "`build_date` (from `SOURCE_DATE_EPOCH`; empty when it is not set), "
                                   "`attribution_baseline_token` (the token the attributions' baseline puts in place "
                                   "of the probe's words, by name: `[PAD]` for `attribution_baseline = \"auto\"` on "
                                   "the default model), `option.*` (each build option with the value used: the "
                                   "model's name, the corpus and probe file names as in `source_files`, `limit` "
                                   "`all` or N, `max_length` the model's actual token limit, `device` and `dtype` "
                                   "the device type and precision used, `figures` `none`, an unset optional number "
                                   "`no limit`; `out`, `db` and `ray` are not recorded), `config` (the options a "
                                   "rebuild needs besides its inputs, as JSON with their raw values and the model by "
                                   "its name: `reportgen archive` writes it as `config.json`), "
                                   "`importance_sentences_measured`, `importance_measure` and `importance_exact` "
                                   "(what the heads' importance measured, over how many sentences, and on which "
                                   "heads exactly: above 144 heads, on fewer sentences than asked for), "
                                   "`logit_lens` (what the logit lens read, or why the report has none), "
                                   "`model_upstream`, `model_upstream_revision`, `model_upstream_source` (the "
                                   "model's Hugging Face hub id and commit where its files say, and where they were "
                                   "read; `not recorded` otherwise), `spacy_model`, `spacy_model_version` (the spaCy "
                                   "pipeline's name and version from its package's meta.json), `report_sha256` (the "
                                   "sha256 of the JSON object of `config`, the three input hashes, "
                                   "`reportgen_version`, `schema_version`, `spacy_model` and `spacy_model_version`, "
                                   "keys sorted, no spaces: reportgen.citation), "
                                   "`study.edits.classifier`, `study.edits.data`, `study.edits.settings` (after "
                                   "`reportgen study edits`)"),
    ("value", "VARCHAR", "the key's value, as text"),
))

SENTENCES = Table("sentences", "one probe or corpus sentence", (
    ("sentence_id", "INTEGER", "the sentence's id, 0-based"),
    ("role", "VARCHAR", "'probe' or 'corpus'"),
    ("source", "VARCHAR", "where it comes from: `file:line`"),
    ("text", "VARCHAR", "the sentence"),
    ("truncated", "BOOLEAN", "whether the sentence was longer than the model's token limit and was truncated"),
))

WORDS = Table("words", "one spaCy token (a word) of a sentence", (
    ("sentence_id", "INTEGER", "the sentence"),
    ("word_idx", "INTEGER", "the word's place in the sentence, 0-based"),
    ("text", "VARCHAR", "the word"),
    ("lemma", "VARCHAR", "its lemma"),
    ("pos", "VARCHAR", "its coarse part of speech"),
    ("tag", "VARCHAR", "its fine tag"),
    ("dep", "VARCHAR", "its dependency relation"),
    ("head_word_idx", "INTEGER", "the word its dependency arc attaches to"),
    ("ent_type", "VARCHAR", "its entity type (NULL outside entities)"),
    ("is_punct", "BOOLEAN", "whether it is punctuation"),
    ("char_start", "INTEGER", "where it starts in the sentence's text, in characters"),
    ("char_end", "INTEGER", "where it ends in the sentence's text, in characters"),
))

TOKENS = Table("tokens", "one model token of a sentence", (
    ("sentence_id", "INTEGER", "the sentence"),
    ("token_idx", "INTEGER", "the token's place in the model's input, 0-based"),
    ("text", "VARCHAR", "the token"),
    ("word_idx", "INTEGER", "the word it belongs to (NULL for special tokens)"),
    ("is_special", "BOOLEAN", "whether it is a special token (`[CLS]`, `[SEP]`, ...)"),
    ("char_start", "INTEGER", "where it starts in the sentence's text, in characters"),
    ("char_end", "INTEGER", "where it ends in the sentence's text, in characters"),
))

ATTENTION = Table("attention", "one attention weight of a probe", (
    ("sentence_id", "INTEGER", "a probe"),
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("from_token_idx", "INTEGER", "the attending token"),
    ("to_token_idx", "INTEGER", "the attended token"),
    ("weight", "DOUBLE", "the attention weight"),
))

NEURON = Table("neuron", "one dimension of a query or key vector of a probe token: the vectors the head's "
                         "attention uses (after rotary embeddings; a grouped key head repeated for each query head "
                         "that shares it), so that softmax(q.k/sqrt(d_head)) over the allowed keys gives "
                         "`attention.weight`", (
    ("sentence_id", "INTEGER", "a probe"),
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("token_idx", "INTEGER", "the token"),
    ("vector", "VARCHAR", "'query' or 'key'"),
    ("dim", "INTEGER", "the dimension"),
    ("value", "DOUBLE", "the vector's value in that dimension"),
))

SOURCE_FILES = Table("source_files", "one input file of the report", (
    ("role", "VARCHAR", "'probe', 'corpus' or 'model'"),
    ("name", "VARCHAR", "relative: the file's name, a corpus folder's name and the path inside it, a model file's "
                        "path inside the model folder"),
    ("sha256", "VARCHAR", "of the file's bytes"),
    ("sentences", "INTEGER", "how many sentences it gave (NULL for model files)"),
    ("source", "VARCHAR", "where the file comes from"),
    ("licence", "VARCHAR", "its licence (for model files: the model's name, and the `license` of its model card if "
                           "it states one)"),
))

STUDY_METRICS = Table("study_metrics", "one figure of a study's classifier", (
    ("study", "VARCHAR", "'edits'"),
    ("metric", "VARCHAR", "accuracy, f1, precision, recall on the test split; n_train, n_validation, n_test, "
                          "n_measured, epochs, seed"),
    ("value", "DOUBLE", "its value"),
))

STUDY_FIGURES = Table("study_figures", "one interpretability figure of a study", (
    ("study", "VARCHAR", "'edits'"),
    ("subset", "VARCHAR", "'flagged': the edited test sentences the classifier predicted as edited, as Stevens & "
                          "Su measure; 'all': every measured edited sentence"),
    ("edit_type", "VARCHAR", "an edit type, or 'all'"),
    ("source", "VARCHAR", "'cls_sum', 'layer', 'head', 'integrated_gradients', 'random'"),
    ("layer", "INTEGER", "NULL where the source has none; `cls_sum` has the last layer"),
    ("head", "INTEGER", "NULL where the source has none"),
    ("measure", "VARCHAR", "'interpretable', 'exact_match', 'jaccard'"),
    ("value", "DOUBLE", "share of the subset's sentences"),
    ("ci_low", "DOUBLE", "95% interval: lower end"),
    ("ci_high", "DOUBLE", "95% interval: upper end"),
    ("n", "INTEGER", "sentences"),
))

STUDY_EXAMPLES = Table("study_examples", "one example sentence of a study", (
    ("study", "VARCHAR", "'edits'"),
    ("example_id", "INTEGER", "the example"),
    ("split", "VARCHAR", "'train', 'validation' or 'test'"),
    ("edit_type", "VARCHAR", "'none' for unedited"),
    ("label", "INTEGER", "1 edited, 0 not"),
    ("predicted", "INTEGER", "the classifier's prediction (test split only, else NULL)"),
    ("text", "VARCHAR", "the sentence"),
))

STUDY_WORDS = Table("study_words", "one word of a measured example of a study", (
    ("study", "VARCHAR", "'edits'"),
    ("example_id", "INTEGER", "a measured example"),
    ("word_idx", "INTEGER", "the word's place in the example"),
    ("text", "VARCHAR", "the word"),
    ("char_start", "INTEGER", "where it starts in the example's text, in characters"),
    ("char_end", "INTEGER", "where it ends in the example's text, in characters"),
    ("gold", "BOOLEAN", "whether it is a gold (edited) word"),
    ("attention_rank", "INTEGER", "0 = most attended by `cls_sum`"),
))


# the tables of every report, whatever its analyses (the probes' attention and vectors are what the sentence pages
# draw); the analyses' tables follow them in registry order
CORE = (META, SENTENCES, WORDS, TOKENS, ATTENTION, NEURON, SOURCE_FILES)
STUDIES = (STUDY_METRICS, STUDY_FIGURES, STUDY_EXAMPLES, STUDY_WORDS)
STUDY_TABLES = tuple(t.name for t in STUDIES)
# the tables of the analyses reportgen ships (their registry entries name them)
ANALYSES = (NEIGHBOURS, HEAD_STATS, BASE_COUNTS, CUT_TIES, DEP_ACCURACY, DEP_TABLE1, HEAD_DISTANCE, HEAD_MAP,
            HEAD_ROLES, ROLE_SENSITIVITY, ATTRIBUTION_TARGETS, CONTROL_HEAD_STATS, CONTROL_DEP_ACCURACY, CONTROL_ROLES,
            HEAD_IMPORTANCE, HEAD_IMPORTANCE_SENTENCES, IMPORTANCE_REFERENCE, CLASS_PROBABILITIES, ATTRIBUTIONS,
            ATTRIBUTION_AGREEMENT, AGREEMENT_BASELINES, AGREEMENT_TESTS, AGREEMENT_RANKS, FAITHFULNESS, HEAD_DETECTORS,
            DETECTOR_ROLES, DETECTOR_ABLATION, LOGIT_LENS, LOGIT_LENS_TOP)
# every table declared here, by name, for the store's own reads
KNOWN = {t.name: t for t in CORE + ANALYSES + STUDIES}
COLUMNS = {name: table.columns for name, table in KNOWN.items()}
