"""The database's tables (schema v5): the README's schema section in code. Table names are constants, never data."""

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
