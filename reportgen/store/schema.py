"""The database's tables (schema v6), with what each row and column means. Table names are constants, never data."""

from __future__ import annotations

import duckdb

SCHEMA_VERSION = "6"
StoreWriteError = duckdb.IOException  # the database file could not be written (full disk, no permission)

SCHEMA = {
    "meta": "key VARCHAR PRIMARY KEY, value VARCHAR",
    "sentences": "sentence_id INTEGER, role VARCHAR, source VARCHAR, text VARCHAR, truncated BOOLEAN",
    "words": ("sentence_id INTEGER, word_idx INTEGER, text VARCHAR, lemma VARCHAR, pos VARCHAR, tag VARCHAR, "
              "dep VARCHAR, head_word_idx INTEGER, ent_type VARCHAR, is_punct BOOLEAN, "
              "char_start INTEGER, char_end INTEGER"),
    "tokens": ("sentence_id INTEGER, token_idx INTEGER, text VARCHAR, word_idx INTEGER, is_special BOOLEAN, "
               "char_start INTEGER, char_end INTEGER"),
    "neighbours": ("sentence_id INTEGER, token_idx INTEGER, space VARCHAR, layer INTEGER, head INTEGER, "
                   "rank INTEGER, match_sentence_id INTEGER, match_token_idx INTEGER, score DOUBLE, "
                   "match_max_attended_token_idx INTEGER"),
    "attention": ("sentence_id INTEGER, layer INTEGER, head INTEGER, from_token_idx INTEGER, "
                  "to_token_idx INTEGER, weight DOUBLE"),
    "head_stats": "layer INTEGER, head INTEGER, stat VARCHAR, value DOUBLE",
    "neuron": ("sentence_id INTEGER, layer INTEGER, head INTEGER, token_idx INTEGER, vector VARCHAR, dim INTEGER, "
               "value DOUBLE"),
    "source_files": ("role VARCHAR, name VARCHAR, sha256 VARCHAR, sentences INTEGER, source VARCHAR, "
                     "licence VARCHAR"),
    # corpus base rates: how often each category occurs among all non-special corpus tokens ('matched', layer
    # and head NULL) and among the tokens they attend to most ('attended', per head; head NULL = the mean of
    # the layer's heads); facets pos, tag, dep, ent, and offset for 'attended'
    "base_counts": ("population VARCHAR, layer INTEGER, head INTEGER, facet VARCHAR, category VARCHAR, "
                    "n BIGINT"),
    # where the k-th score of a probe token's matches is tied with corpus contexts that were not kept
    "cut_ties": ("sentence_id INTEGER, token_idx INTEGER, space VARCHAR, layer INTEGER, head INTEGER, "
                 "score DOUBLE, tied_kept INTEGER, tied_dropped BIGINT"),
    # Clark et al.'s dependency accuracy per head, relation ('all': every word) and direction, with the best
    # fixed-offset baseline, bootstrap intervals of the accuracy and of its margin over the baseline, and whether
    # the margin is significant (Bonferroni over the head's cells)
    "dep_accuracy": ("layer INTEGER, head INTEGER, relation VARCHAR, direction VARCHAR, support BIGINT, "
                     "accuracy DOUBLE, baseline_offset INTEGER, baseline_accuracy DOUBLE, accuracy_low DOUBLE, "
                     "accuracy_high DOUBLE, margin_low DOUBLE, margin_high DOUBLE, significant BOOLEAN"),
    # the mean Jensen-Shannon distance between two heads' attention over the sample sentences (both orders)
    "head_distance": "layer_a INTEGER, head_a INTEGER, layer_b INTEGER, head_b INTEGER, distance DOUBLE",
    # the heads laid out in 2-D by multidimensional scaling of head_distance
    "head_map": "layer INTEGER, head INTEGER, x DOUBLE, y DOUBLE",
    "head_roles": "layer INTEGER, head INTEGER, role VARCHAR, evidence VARCHAR",
    # what each probe's attributions explain: f at the input and at the baseline, Captum's convergence delta, and
    # the attention rows the target is computed from (the read-out of the agreement and the rollout)
    "attribution_targets": ("sentence_id INTEGER, target VARCHAR, description VARCHAR, value DOUBLE, "
                            "baseline_value DOUBLE, delta DOUBLE, readout VARCHAR"),
    # how much the model's output changes when one head (head NULL: every head of the layer) is removed
    "head_importance": ("layer INTEGER, head INTEGER, scope VARCHAR, sentence_id INTEGER, method VARCHAR, "
                        "value DOUBLE, ci_low DOUBLE, ci_high DOUBLE"),
    # a sequence classifier's probability of every class on each probe (the softmax of its logits)
    "class_probabilities": "sentence_id INTEGER, class_index INTEGER, label VARCHAR, probability DOUBLE",
    # a score per probe token: integrated gradients, or the rollout from the target position after the last layer
    "attributions": "sentence_id INTEGER, method VARCHAR, target VARCHAR, token_idx INTEGER, score DOUBLE",
    # Spearman's rho over a probe's words between |integrated gradients| and the attention of the read-out rows:
    # per head ('attention'), or per layer for the rollout up to that layer ('rollout', head NULL), with the share
    # of the read-out's attention that reaches the probe's words
    "attribution_agreement": ("sentence_id INTEGER, method VARCHAR, layer INTEGER, head INTEGER, spearman DOUBLE, "
                              "n_words INTEGER, word_share DOUBLE"),
    # `reportgen study edits` (Stevens & Su 2020): the classifier's test metrics, every interpretability figure,
    # the examples, and the words of the measured ones with their gold flag and attention rank
    "study_metrics": "study VARCHAR, metric VARCHAR, value DOUBLE",
    "study_figures": ("study VARCHAR, subset VARCHAR, edit_type VARCHAR, source VARCHAR, layer INTEGER, "
                      "head INTEGER, measure VARCHAR, value DOUBLE, ci_low DOUBLE, ci_high DOUBLE, n INTEGER"),
    "study_examples": ("study VARCHAR, example_id INTEGER, split VARCHAR, edit_type VARCHAR, label INTEGER, "
                       "predicted INTEGER, text VARCHAR"),
    "study_words": ("study VARCHAR, example_id INTEGER, word_idx INTEGER, text VARCHAR, char_start INTEGER, "
                    "char_end INTEGER, gold BOOLEAN, attention_rank INTEGER"),
}
STUDY_TABLES = ("study_metrics", "study_figures", "study_examples", "study_words")
COLUMNS = {table: [c.strip().split()[0] for c in ddl.split(",") if not c.strip().startswith("PRIMARY")]
           for table, ddl in SCHEMA.items()}

# What each table's row is and what each column means: the documentation's schema reference is generated from this
# and SCHEMA (docs/generate.py); a test checks that every table and column has its entry.
DESCRIPTIONS: dict[str, tuple[str, dict[str, str]]] = {
    "meta": ("one fact about the report: a key and its value", {
        "key": (
            "schema_version, reportgen_version, model, architecture, n_layers, n_heads, d_model, d_head, max_length, "
            "causal, top_k, corpus_sha256, probes_sha256, model_sha256 (each the sha256 of its files' hex sha256 "
            "values joined without separators, in reading order; the model's files by name), library versions, "
            "`build_date` (from `SOURCE_DATE_EPOCH`; empty when it is not set), `attribution_baseline_token` (the "
            "token the attributions' baseline puts in place of the probe's words, by name: `[PAD]` for "
            "`attribution_baseline = \"auto\"` on the default model), `option.*` (each build option with the value "
            "used: the model's name, the corpus and probe file names as in `source_files`, `limit` `all` or N, "
            "`max_length` the model's actual token limit, `device` and `dtype` the device type and precision used, "
            "`figures` `none`, an unset optional number `no limit`; `out`, `db` and `ray` are not recorded), "
            "`config` (the options a rebuild needs besides its inputs, as JSON with their raw values and the model "
            "by its name: `reportgen archive` writes it as `config.json`), `importance_sentences_measured`, "
            "`importance_measure` and `importance_exact` (what the heads' importance measured, and on which heads "
            "exactly), `study.edits.classifier`, `study.edits.data`, `study.edits.settings` (after "
            "`reportgen study edits`)"),
        "value": "the key's value, as text",
    }),
    "sentences": ("one probe or corpus sentence", {
        "sentence_id": "the sentence's id, 0-based",
        "role": "'probe' or 'corpus'",
        "source": "where it comes from: `file:line`",
        "text": "the sentence",
        "truncated": "whether the sentence was longer than the model's token limit and was truncated",
    }),
    "words": ("one spaCy token (a word) of a sentence", {
        "sentence_id": "the sentence",
        "word_idx": "the word's place in the sentence, 0-based",
        "text": "the word",
        "lemma": "its lemma",
        "pos": "its coarse part of speech",
        "tag": "its fine tag",
        "dep": "its dependency relation",
        "head_word_idx": "the word its dependency arc attaches to",
        "ent_type": "its entity type (NULL outside entities)",
        "is_punct": "whether it is punctuation",
        "char_start": "where it starts in the sentence's text, in characters",
        "char_end": "where it ends in the sentence's text, in characters",
    }),
    "tokens": ("one model token of a sentence", {
        "sentence_id": "the sentence",
        "token_idx": "the token's place in the model's input, 0-based",
        "text": "the token",
        "word_idx": "the word it belongs to (NULL for special tokens)",
        "is_special": "whether it is a special token (`[CLS]`, `[SEP]`, ...)",
        "char_start": "where it starts in the sentence's text, in characters",
        "char_end": "where it ends in the sentence's text, in characters",
    }),
    "neighbours": ("one corpus match of a probe token in one search space", {
        "sentence_id": "a probe",
        "token_idx": "the probe token",
        "space": "'embedding' or 'context'",
        "layer": "the block",
        "head": "NULL = whole layer or embedding",
        "rank": "0 = best",
        "match_sentence_id": "the matched corpus sentence",
        "match_token_idx": "the matched corpus token",
        "score": "the cosine (for the whole-layer space: the sum over heads of the per-head cosines, each weighted by "
                 "the norm of the probe's own context of that head)",
        "match_max_attended_token_idx": "the corpus token the match attends to most (in that head for a head space, "
                                        "in the mean over the layer's heads for the embedding and whole-layer spaces)",
    }),
    "attention": ("one attention weight of a probe", {
        "sentence_id": "a probe",
        "layer": "the block",
        "head": "the head",
        "from_token_idx": "the attending token",
        "to_token_idx": "the attended token",
        "weight": "the attention weight",
    }),
    "head_stats": ("one head statistic of one head, a mean over every real query token of the corpus (the "
                   "statistics are defined on the schema page)", {
        "layer": "the block",
        "head": "the head",
        "stat": "the statistic's name (`entropy`, `entropy_norm`, `distance`, `self`, `prev`, `next`, `first`, "
                "`last`, `special`, `punct`, and `<share>_by_norm` for each of the seven shares)",
        "value": "its value",
    }),
    "neuron": ("one dimension of a query or key vector of a probe token: the vectors the head's attention uses (after "
               "rotary embeddings; a grouped key head repeated for each query head that shares it), so that "
               "softmax(q.k/sqrt(d_head)) over the allowed keys gives `attention.weight`", {
        "sentence_id": "a probe",
        "layer": "the block",
        "head": "the head",
        "token_idx": "the token",
        "vector": "'query' or 'key'",
        "dim": "the dimension",
        "value": "the vector's value in that dimension",
    }),
    "source_files": ("one input file of the report", {
        "role": "'probe', 'corpus' or 'model'",
        "name": "relative: the file's name, a corpus folder's name and the path inside it, a model file's path inside "
                "the model folder",
        "sha256": "of the file's bytes",
        "sentences": "how many sentences it gave (NULL for model files)",
        "source": "where the file comes from",
        "licence": "its licence (for model files: the model's name, and the `license` of its model card if it states "
                   "one)",
    }),
    "base_counts": ("one corpus base rate of the histograms: how many tokens of a population fall in one category", {
        "population": "'matched': every non-special corpus token, `layer` and `head` NULL; 'attended': the token each "
                      "of those attends to most, per `layer` and `head`",
        "layer": "the block ('attended' only)",
        "head": "the head ('attended' only; NULL = the mean of the layer's heads)",
        "facet": "'pos', 'tag', 'dep', 'ent', and 'offset' for 'attended'",
        "category": "the category",
        "n": "how many tokens",
    }),
    "cut_ties": ("one probe token and space whose last kept score is tied with corpus contexts that were not kept; one "
                 "row only where `tied_dropped` > 0", {
        "sentence_id": "a probe",
        "token_idx": "the probe token",
        "space": "as in `neighbours`",
        "layer": "as in `neighbours`",
        "head": "as in `neighbours`",
        "score": "the last kept score",
        "tied_kept": "kept matches with that score",
        "tied_dropped": "corpus contexts with that score that were not kept",
    }),
    "dep_accuracy": ("Clark et al.'s dependency accuracy of one head for one relation and direction, with the best "
                     "fixed-offset baseline", {
        "layer": "the block",
        "head": "the head",
        "relation": "a spaCy dependency label, `ROOT` and `punct` included, with at least `min_dep_support` "
                    "dependents, or 'all': every word",
        "direction": "'dependent_to_head': the word the dependent attends to most; 'head_to_dependent': the word that "
                     "attends to the dependent most",
        "support": "dependents",
        "accuracy": "of the predicted heads against the gold ones",
        "baseline_offset": "the best fixed offset, -3..+2, one baseline for both directions",
        "baseline_accuracy": "its accuracy",
        "accuracy_low": "95% bootstrap interval of `accuracy`: lower end",
        "accuracy_high": "95% bootstrap interval of `accuracy`: upper end",
        "margin_low": "95% bootstrap interval of `accuracy - baseline_accuracy`, the head and the baseline on the same "
                      "resamples of sentence blocks: lower end",
        "margin_high": "the same interval's upper end",
        "significant": "the margin's interval, Bonferroni-corrected over the head's relation-direction cells, lies "
                       "above 0",
    }),
    "head_distance": ("the distance between two heads: the mean Jensen-Shannon distance (base 2, 0 to 1) between the "
                      "two heads' attention, over every token of the first `similarity_sentences` corpus sentences; "
                      "both orders, no head with itself", {
        "layer_a": "the first head's block",
        "head_a": "the first head",
        "layer_b": "the second head's block",
        "head_b": "the second head",
        "distance": "the mean Jensen-Shannon distance",
    }),
    "head_map": ("one head in 2-D: scikit-learn's metric MDS of `head_distance` (seed 0, 4 starts, rounded to 6 "
                 "decimals)", {
        "layer": "the block",
        "head": "the head",
        "x": "its first coordinate",
        "y": "its second coordinate",
    }),
    "head_roles": ("the role of one head", {
        "layer": "the block",
        "head": "the head",
        "role": "syntax, previous, next, self, first, last, special, punct, broad or mixed",
        "evidence": "the role in words with the numbers that earned it",
    }),
    "attribution_targets": ("what one probe's attributions explain", {
        "sentence_id": "a probe",
        "target": "the number the attributions explain (see the attributions' page)",
        "description": "the target in words",
        "value": "f on the probe",
        "baseline_value": "f on the baseline",
        "delta": "Captum's convergence delta: the attributions' sum minus `value - baseline_value`",
        "readout": "the attention rows the target is computed from, which the agreement and the rollout read: 'first' "
                   "([CLS]), 'last' (the last token), 'continuation' (the rows that predict the continuation's "
                   "tokens) or 'mean' (every row, for a mean-pooled embedding)",
    }),
    "head_importance": ("how much the model's output changes when one head (or a whole layer) is removed", {
        "layer": "the block",
        "head": "the head (NULL: every head of the layer removed at once)",
        "scope": "'corpus': the mean over the first `importance_sentences` corpus sentences; 'probe': one probe",
        "sentence_id": "the probe; NULL for 'corpus'",
        "method": "'ablation': the change of the output with the head's output set to zero; 'flip': a classifier's "
                  "share of sentences whose prediction changes; 'gradient': Michel et al.'s proxy",
        "value": "the change",
        "ci_low": "95% bootstrap interval over the sentences, seed 0: lower end; NULL for 'probe'",
        "ci_high": "the same interval's upper end; NULL for 'probe'",
    }),
    "class_probabilities": ("one class of a sequence classifier on one probe; empty for other models", {
        "sentence_id": "a probe",
        "class_index": "the class",
        "label": "the model's `id2label`",
        "probability": "the softmax of the logits",
    }),
    "attributions": ("one probe token's score under one attribution method", {
        "sentence_id": "a probe",
        "method": "'integrated_gradients', or 'rollout': the row of the target position after the last layer",
        "target": "as in `attribution_targets`",
        "token_idx": "the token",
        "score": "its score (0 for special tokens under integrated gradients)",
    }),
    "attribution_agreement": ("how far one head's (or one layer's rollout's) attention agrees with the integrated "
                              "gradients on one probe", {
        "sentence_id": "a probe",
        "method": "'attention': per `layer` and `head`; 'rollout': per `layer`, the rollout up to it, `head` NULL",
        "layer": "the block",
        "head": "the head (NULL for 'rollout')",
        "spearman": "rho over the probe's words between |integrated gradients| and the read-out's attention; NULL "
                    "where undefined",
        "n_words": "the probe's words",
        "word_share": "the share of the read-out's attention that reaches the probe's words rather than its special "
                      "tokens",
    }),
    "study_metrics": ("one figure of a study's classifier", {
        "study": "'edits'",
        "metric": "accuracy, f1, precision, recall on the test split; n_train, n_validation, n_test, n_measured, "
                  "epochs, seed",
        "value": "its value",
    }),
    "study_figures": ("one interpretability figure of a study", {
        "study": "'edits'",
        "subset": "'flagged': the edited test sentences the classifier predicted as edited, as Stevens & Su measure; "
                  "'all': every measured edited sentence",
        "edit_type": "an edit type, or 'all'",
        "source": "'cls_sum', 'layer', 'head', 'integrated_gradients', 'random'",
        "layer": "NULL where the source has none; `cls_sum` has the last layer",
        "head": "NULL where the source has none",
        "measure": "'interpretable', 'exact_match', 'jaccard'",
        "value": "share of the subset's sentences",
        "ci_low": "95% interval: lower end",
        "ci_high": "95% interval: upper end",
        "n": "sentences",
    }),
    "study_examples": ("one example sentence of a study", {
        "study": "'edits'",
        "example_id": "the example",
        "split": "'train', 'validation' or 'test'",
        "edit_type": "'none' for unedited",
        "label": "1 edited, 0 not",
        "predicted": "the classifier's prediction (test split only, else NULL)",
        "text": "the sentence",
    }),
    "study_words": ("one word of a measured example of a study", {
        "study": "'edits'",
        "example_id": "a measured example",
        "word_idx": "the word's place in the example",
        "text": "the word",
        "char_start": "where it starts in the example's text, in characters",
        "char_end": "where it ends in the example's text, in characters",
        "gold": "whether it is a gold (edited) word",
        "attention_rank": "0 = most attended by `cls_sum`",
    }),
}
