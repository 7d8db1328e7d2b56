"""The database's tables: the schema reference of the docs in code (docs/generate.py writes it from here). Table
names are constants, never data.

The tables every report has are here (CORE, and the study tables that `reportgen study` adds), with those of the
analyses reportgen ships, which their registry entries name (analyses/registry.py); an analysis may declare new
tables in its own module.
"""

from __future__ import annotations

from .table import Table

SCHEMA_VERSION = "7"


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
                                   "(what the heads' importance measured, and on which heads exactly), "
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

NEIGHBOURS = Table("neighbours", "one corpus match of a probe token in one search space", (
    ("sentence_id", "INTEGER", "a probe"),
    ("token_idx", "INTEGER", "the probe token"),
    ("space", "VARCHAR", "'embedding' or 'context'"),
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "NULL = whole layer or embedding"),
    ("rank", "INTEGER", "0 = best"),
    ("match_sentence_id", "INTEGER", "the matched corpus sentence"),
    ("match_token_idx", "INTEGER", "the matched corpus token"),
    ("score", "DOUBLE", "the cosine (for the whole-layer space: the sum over heads of the per-head cosines, each "
                        "weighted by the norm of the probe's own context of that head)"),
    ("match_max_attended_token_idx", "INTEGER", "the corpus token the match attends to most (in that head for a "
                                                "head space, in the mean over the layer's heads for the embedding "
                                                "and whole-layer spaces)"),
))

HEAD_STATS = Table("head_stats", "one head statistic of one head, a mean over every real query token of the "
                                 "corpus (the statistics are defined on the schema page)", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("stat", "VARCHAR", "the statistic's name (`entropy`, `entropy_norm`, `distance`, `self`, `prev`, `next`, "
                        "`first`, `last`, `special`, `punct`, and `<share>_by_norm` for each of the seven shares)"),
    ("value", "DOUBLE", "its value"),
))

BASE_COUNTS = Table("base_counts", "one corpus base rate of the histograms: how many tokens of a population fall "
                                   "in one category", (
    ("population", "VARCHAR", "'matched': every non-special corpus token, `layer` and `head` NULL; 'attended': the "
                              "token each of those attends to most, per `layer` and `head`"),
    ("layer", "INTEGER", "the block ('attended' only)"),
    ("head", "INTEGER", "the head ('attended' only; NULL = the mean of the layer's heads)"),
    ("facet", "VARCHAR", "'pos', 'tag', 'dep', 'ent', and 'offset' for 'attended'"),
    ("category", "VARCHAR", "the category"),
    ("n", "BIGINT", "how many tokens"),
))

CUT_TIES = Table("cut_ties", "one probe token and space whose last kept score is tied with corpus contexts that "
                             "were not kept; one row only where `tied_dropped` > 0", (
    ("sentence_id", "INTEGER", "a probe"),
    ("token_idx", "INTEGER", "the probe token"),
    ("space", "VARCHAR", "as in `neighbours`"),
    ("layer", "INTEGER", "as in `neighbours`"),
    ("head", "INTEGER", "as in `neighbours`"),
    ("score", "DOUBLE", "the last kept score"),
    ("tied_kept", "INTEGER", "kept matches with that score"),
    ("tied_dropped", "BIGINT", "corpus contexts with that score that were not kept"),
))

DEP_ACCURACY = Table("dep_accuracy", "Clark et al.'s dependency accuracy of one head for one relation and "
                                     "direction, with the best fixed-offset baseline", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("relation", "VARCHAR", "a spaCy dependency label, `ROOT` and `punct` included, with at least "
                            "`min_dep_support` dependents, or 'all': every word"),
    ("direction", "VARCHAR", "'dependent_to_head': the word the dependent attends to most; 'head_to_dependent': "
                             "the word that attends to the dependent most"),
    ("support", "BIGINT", "dependents"),
    ("accuracy", "DOUBLE", "of the predicted heads against the gold ones"),
    ("baseline_offset", "INTEGER", "the best fixed offset, -3..+2, one baseline for both directions"),
    ("baseline_accuracy", "DOUBLE", "its accuracy"),
    ("accuracy_low", "DOUBLE", "95% bootstrap interval of `accuracy`: lower end"),
    ("accuracy_high", "DOUBLE", "95% bootstrap interval of `accuracy`: upper end"),
    ("margin_low", "DOUBLE", "95% bootstrap interval of `accuracy - baseline_accuracy`, the head and the baseline "
                             "on the same resamples of sentence blocks: lower end"),
    ("margin_high", "DOUBLE", "the same interval's upper end"),
    ("significant", "BOOLEAN", "the margin's interval, Bonferroni-corrected over the head's relation-direction "
                               "cells (`margin_low_corrected`), lies above 0"),
    ("margin_low_corrected", "DOUBLE", "the margin's interval Bonferroni-corrected over the head's relation-direction "
                                       "cells m (every relation but 'all', both directions): margin - z se, z the "
                                       "normal quantile at 1 - 0.05/(2m), se the bootstrap's standard error; the "
                                       "interval `significant` and `below` rest on: lower end"),
    ("margin_high_corrected", "DOUBLE", "the same corrected interval's upper end"),
    ("below", "BOOLEAN", "the corrected interval lies below 0: the head predicts the heads significantly worse than "
                         "the best fixed offset"),
    ("table1_lead", "BOOLEAN", "the head leads Table 1 for this relation and direction: the most accurate head, or "
                               "one that no paired test over the same block resamples separates from it (the 95% "
                               "interval of the accuracies' difference holds 0; ties chain)"),
    ("syntax_lead", "BOOLEAN", "the cell earns the head's syntax role (significant, a margin of at least 0.10, an "
                               "accuracy of at least 0.30) with the largest margin among the head's cells that do, or "
                               "no paired test over the block resamples separates its margin from that one's"),
))

HEAD_DISTANCE = Table("head_distance", "the distance between two heads: the mean Jensen-Shannon distance (base 2, "
                                       "0 to 1) between the two heads' attention, over every token of the first "
                                       "`similarity_sentences` corpus sentences; both orders, no head with itself", (
    ("layer_a", "INTEGER", "the first head's block"),
    ("head_a", "INTEGER", "the first head"),
    ("layer_b", "INTEGER", "the second head's block"),
    ("head_b", "INTEGER", "the second head"),
    ("distance", "DOUBLE", "the mean Jensen-Shannon distance"),
))

HEAD_MAP = Table("head_map", "one head in 2-D: scikit-learn's metric MDS of `head_distance` (seed 0, 4 starts, "
                             "rounded to 6 decimals)", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("x", "DOUBLE", "its first coordinate"),
    ("y", "DOUBLE", "its second coordinate"),
))

HEAD_ROLES = Table("head_roles", "the role of one head, how stable it is under resampling, and the control model's "
                                 "same head beside it", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("role", "VARCHAR", "syntax, previous, next, self, first, last, special, punct, broad or mixed"),
    ("evidence", "VARCHAR", "the role in words with the numbers that earned it"),
    ("relation", "VARCHAR", "a syntax role's relation: the cell with the largest margin (NULL for other roles)"),
    ("direction", "VARCHAR", "that cell's direction (NULL for other roles)"),
    ("stability", "DOUBLE", "the share of the 1,000 bootstrap resamples of sentence blocks that give the head the "
                            "same role, the rules applied to each resample's figures (the significance a syntax cell "
                            "needs with the whole corpus's standard error); for a syntax head, the same role on the "
                            "same relation (either direction)"),
    ("role_stability", "DOUBLE", "the share of resamples that give the same role, for a syntax head on any relation "
                                 "(equal to `stability` for the other roles)"),
    ("value", "DOUBLE", "the figure that decides the role: a syntax head's margin on `relation` and `direction`, a "
                        "positional head's or a sink's share, a broad head's normalised entropy (NULL for mixed)"),
    ("se", "DOUBLE", "its bootstrap standard error (over the block resamples)"),
    ("rank_group", "INTEGER", "among the heads of the same role, the tie group of `value` from the largest (1): heads "
                              "of one group are not separated by a paired test over the block resamples"),
    ("control_role", "VARCHAR", "the role of the same head of the control model (a randomly initialised copy, see "
                                "`control_roles`); NULL without a control"),
    ("control_value", "DOUBLE", "the control model's same figure for the same head (NULL where it has none)"),
    ("control_se", "DOUBLE", "its bootstrap standard error"),
    ("claimed", "BOOLEAN", "the role is claimed as learned: `value` lies above `control_value` by a one-sided z-test "
                           "(z = (value - control_value) / sqrt(se^2 + control_se^2)) at 0.05, Bonferroni-corrected "
                           "over the heads tested; NULL where no test is made (mixed, or no control figure)"),
))

ATTRIBUTION_TARGETS = Table("attribution_targets", "what one probe's attributions explain", (
    ("sentence_id", "INTEGER", "a probe"),
    ("target", "VARCHAR", "the number the attributions explain (see the attributions' page)"),
    ("description", "VARCHAR", "the target in words"),
    ("value", "DOUBLE", "f on the probe"),
    ("baseline_value", "DOUBLE", "f on the baseline"),
    ("delta", "DOUBLE", "Captum's convergence delta: the attributions' sum minus `value - baseline_value`"),
    ("readout", "VARCHAR", "the attention rows the target is computed from, which the agreement and the rollout "
                           "read: 'first' ([CLS]), 'last' (the last token), 'continuation' (the rows that predict "
                           "the continuation's tokens) or 'mean' (every row, for a mean-pooled embedding)"),
))

HEAD_IMPORTANCE = Table("head_importance", "how much the model's output changes when one head (or a whole layer) "
                                           "is removed", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head (NULL: every head of the layer removed at once)"),
    ("scope", "VARCHAR", "'corpus': the mean over the first `importance_sentences` corpus sentences; 'probe': one "
                         "probe"),
    ("sentence_id", "INTEGER", "the probe; NULL for 'corpus'"),
    ("method", "VARCHAR", "'ablation': the change of the output with the head's output set to zero; 'flip': a "
                          "classifier's share of sentences whose prediction changes; 'gradient': Michel et al.'s "
                          "proxy"),
    ("value", "DOUBLE", "the change"),
    ("ci_low", "DOUBLE", "95% bootstrap interval over the sentences, seed 0: lower end; NULL for 'probe'"),
    ("ci_high", "DOUBLE", "the same interval's upper end; NULL for 'probe'"),
))

CLASS_PROBABILITIES = Table("class_probabilities", "one class of a sequence classifier on one probe; empty for "
                                                   "other models", (
    ("sentence_id", "INTEGER", "a probe"),
    ("class_index", "INTEGER", "the class"),
    ("label", "VARCHAR", "the model's `id2label`"),
    ("probability", "DOUBLE", "the softmax of the logits"),
))

ATTRIBUTIONS = Table("attributions", "one probe token's score under one attribution method", (
    ("sentence_id", "INTEGER", "a probe"),
    ("method", "VARCHAR", "'integrated_gradients', or 'rollout': the row of the target position after the last layer"),
    ("target", "VARCHAR", "as in `attribution_targets`"),
    ("token_idx", "INTEGER", "the token"),
    ("score", "DOUBLE", "its score (0 for special tokens under integrated gradients)"),
))

ATTRIBUTION_AGREEMENT = Table("attribution_agreement", "how far one head's (or one layer's rollout's) attention "
                                                       "agrees with the integrated gradients on one probe", (
    ("sentence_id", "INTEGER", "a probe"),
    ("method", "VARCHAR", "'attention': per `layer` and `head`; 'rollout': per `layer`, the rollout up to it, "
                          "`head` NULL"),
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head (NULL for 'rollout')"),
    ("spearman", "DOUBLE", "rho over the probe's words between |integrated gradients| and the read-out's "
                           "attention; NULL where undefined"),
    ("n_words", "INTEGER", "the probe's words"),
    ("word_share", "DOUBLE", "the share of the read-out's attention that reaches the probe's words rather than its "
                             "special tokens"),
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


# the head analysis's checks (declared in checks.py: Table 1 held out, the roles' sensitivity, the control model)
from .checks import (  # noqa: E402 (after the tables they build on)
    CONTROL_DEP_ACCURACY,
    CONTROL_HEAD_STATS,
    CONTROL_ROLES,
    DEP_TABLE1,
    ROLE_SENSITIVITY,
)

# the tables of every report, whatever its analyses (the probes' attention and vectors are what the sentence pages
# draw); the analyses' tables follow them in registry order
CORE = (META, SENTENCES, WORDS, TOKENS, ATTENTION, NEURON, SOURCE_FILES)
STUDIES = (STUDY_METRICS, STUDY_FIGURES, STUDY_EXAMPLES, STUDY_WORDS)
STUDY_TABLES = tuple(t.name for t in STUDIES)
# the tables of the analyses reportgen ships (their registry entries name them)
ANALYSES = (NEIGHBOURS, HEAD_STATS, BASE_COUNTS, CUT_TIES, DEP_ACCURACY, DEP_TABLE1, HEAD_DISTANCE, HEAD_MAP,
            HEAD_ROLES, ROLE_SENSITIVITY, ATTRIBUTION_TARGETS, CONTROL_HEAD_STATS, CONTROL_DEP_ACCURACY, CONTROL_ROLES,
            HEAD_IMPORTANCE, CLASS_PROBABILITIES, ATTRIBUTIONS, ATTRIBUTION_AGREEMENT)
# every table declared here, by name, for the store's own reads
KNOWN = {t.name: t for t in CORE + ANALYSES + STUDIES}
COLUMNS = {name: table.columns for name, table in KNOWN.items()}
