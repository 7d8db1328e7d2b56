"""The tables of the analyses reportgen ships, each named by its registry entry (analyses/registry.py): the
schema reference of the docs in code, beside store/schema.py's tables of every report."""

from __future__ import annotations

from .table import Table

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
                        "`first`, `last`, `special`, `punct`, `<share>_by_norm` for each of the seven shares, and "
                        "`<share>_moved` for each of them and `comma_period` in the hidden state's units)"),
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
    ("open_ended", "BOOLEAN", "whether `tied_dropped` is only a lower bound: with `max_matches_per_sentence`, the "
                              "candidates of a corpus sentence past its cap are discarded before ties are counted, "
                              "so more contexts may share the score (the pages say 'at least')"),
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
    ("shared", "BIGINT", "of `support`, the dependents with no token of their own (spaCy's \"not\" of \"cannot\", "
                         "whose token goes to \"can\"), represented by the token(s) that contain them"),
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
    ("steps", "INTEGER", "integrated gradients' steps (Captum's n_steps) of the attributions kept: "
                         "`attribution_steps` (unset: 50, or 100 on a causal LM; `meta.option.attribution_steps`), "
                         "or where they had not converged at it, twice as many, up to 3 times while doubling shrank "
                         "the convergence delta"),
))

HEAD_IMPORTANCE = Table("head_importance", "how much the model's output changes when one head (or a whole layer) "
                                           "is removed", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head (NULL: every head of the layer removed at once)"),
    ("scope", "VARCHAR", "'corpus': the mean over the first `importance_sentences` corpus sentences; 'probe': one "
                         "probe"),
    ("sentence_id", "INTEGER", "the probe; NULL for 'corpus'"),
    ("method", "VARCHAR", "'ablation': the change of the output with the head's output set to zero; 'flip': a "
                          "classifier's share of sentences whose prediction changes; Michel et al.'s gradient proxy, "
                          "a head mask xi at 1: 'gradient' the mean over sentences of |dL/dxi_h| (reportgen's: the "
                          "absolute value per sentence), 'gradient_token' the sum of |dL/dxi_h,t| over every token "
                          "divided by the number of tokens (their code's: the absolute value per token), and "
                          "'gradient_normalised', 'gradient_token_normalised' each divided by the L2 norm of its "
                          "layer's values (their code's per-layer normalisation; the latter is their I_h)"),
    ("value", "DOUBLE", "the change"),
    ("ci_low", "DOUBLE", "95% bootstrap interval over the sentences, seed 0, the same resamples for every head and "
                         "method (a normalised proxy's normalises each resample): lower end; NULL for 'probe'"),
    ("ci_high", "DOUBLE", "the same interval's upper end; NULL for 'probe'"),
    ("rank", "INTEGER", "for 'corpus' 'ablation': 1 + the number of heads (for a layer, layers) ranked above it, "
                        "highest value first; heads with the same rank are tied: a head is ranked below the one "
                        "before it only where the paired difference over the same resampled sentences has a 95% "
                        "interval above 0 (reportgen.ranking); NULL otherwise"),
))

HEAD_IMPORTANCE_SENTENCES = Table("head_importance_sentences", "the change of one corpus sentence's output when one "
                                                               "head (or a whole layer) is removed: what the "
                                                               "'corpus' means, intervals and ranks are made of", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head (NULL: every head of the layer removed at once)"),
    ("sentence_id", "INTEGER", "a corpus sentence among the first `importance_sentences`"),
    ("method", "VARCHAR", "'ablation'"),
    ("value", "DOUBLE", "the change, as `head_importance.value`"),
))

IMPORTANCE_REFERENCE = Table("importance_reference", "a value on the ablation's own measure that gives its figures a "
                                                     "scale", (
    ("reference", "VARCHAR", "'between_sentences': the measure between the intact outputs of two different "
                             "sentences of the sample, as if one were the other with heads removed (an encoder: "
                             "1 - cos of their mean-pooled outputs; a classifier: the drop of one's predicted class's "
                             "logit on the other; a causal LM: the absolute difference of their mean next-token "
                             "losses), the mean over every pair"),
    ("value", "DOUBLE", "the reference value"),
    ("ci_low", "DOUBLE", "95% bootstrap interval over the sentences, seed 0, the same resamples as the heads' "
                         "(within a resample, the pairs of different sentences): lower end"),
    ("ci_high", "DOUBLE", "the same interval's upper end"),
    ("definition", "VARCHAR", "what the value is, in words, for this model"),
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
    ("score", "DOUBLE", "its score (0 under integrated gradients for special tokens and for a causal model's first "
                        "token, which the baseline keeps)"),
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
    ("n_words", "INTEGER", "the probe's words compared: all of them but a causal model's first word where it is "
                           "one token, which the attributions' baseline keeps"),
    ("word_share", "DOUBLE", "the share of the read-out's attention that reaches the probe's words compared rather "
                             "than its special tokens (and a causal model's first token)"),
))

AGREEMENT_BASELINES = Table("agreement_baselines", "how far a ranking of a probe's words that needs no attention "
                                                   "agrees with the integrated gradients: the same rho as "
                                                   "`attribution_agreement`'s", (
    ("sentence_id", "INTEGER", "a probe"),
    ("baseline", "VARCHAR", "'length': the word's length in characters; 'rarity': how rare its form (lowercased) is "
                            "among the corpus's words, log((N + 1) / (c + 1)) for a form seen c times in N words (an "
                            "inverse frequency over word occurrences); 'position': its index in the probe; "
                            "'uniform': its number of tokens, what attention spread evenly over the tokens gives a "
                            "word"),
    ("spearman", "DOUBLE", "rho over the probe's words between |integrated gradients| and the baseline's value; NULL "
                           "where undefined (under 3 words, or a constant side)"),
    ("n_words", "INTEGER", "the probe's words compared, as in `attribution_agreement`"),
))

AGREEMENT_TESTS = Table("agreement_tests", "one head's (or one layer's rollout's) agreement with the integrated "
                                           "gradients against one baseline's, paired over the probes where both are "
                                           "compared", (
    ("method", "VARCHAR", "'attention' or 'rollout', as in `attribution_agreement`"),
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head (NULL for 'rollout')"),
    ("baseline", "VARCHAR", "as in `agreement_baselines`"),
    ("best", "BOOLEAN", "whether the baseline is among the best baselines: the first tie group of the baselines "
                        "ranked by mean rho over the probes (reportgen.ranking, paired bootstrap over the probes)"),
    ("n_probes", "INTEGER", "the probes where the head is compared (at least 10% of its read-out on the words, rho "
                            "defined) and the baseline's rho is defined"),
    ("difference", "DOUBLE", "the mean over those probes of the head's rho minus the baseline's"),
    ("ci_low", "DOUBLE", "95% percentile interval of that mean over 1,000 bootstrap resamples of those probes, seed "
                         "0: lower end; NULL under 2 probes"),
    ("ci_high", "DOUBLE", "the same interval's upper end"),
    ("beats", "BOOLEAN", "whether the head's rho is above the baseline's: the interval above 0, over at least 5 "
                         "probes. A head agrees with the gradients where it beats every best baseline"),
))

AGREEMENT_RANKS = Table("agreement_ranks", "one head's (or one layer's rollout's) mean agreement with the integrated "
                                           "gradients over the probes, and its rank with its ties", (
    ("method", "VARCHAR", "'attention': a head, ranked among the heads; 'rollout': the rollout up to `layer`, ranked "
                          "among the layers"),
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head (NULL for 'rollout')"),
    ("n_probes", "INTEGER", "the probes where it is compared (a head: at least 10% of its read-out on the words) and "
                            "its rho is defined"),
    ("mean", "DOUBLE", "the mean of `attribution_agreement.spearman` over those probes; NULL where there are none"),
    ("rank", "INTEGER", "1 + the number of heads (for 'rollout', layers) ranked above it, highest mean first; those "
                        "with the same rank are tied: one is ranked below the one before it only where the paired "
                        "difference of their means over 1,000 bootstrap resamples of the probes (seed 0, the same "
                        "resamples for every head; on each resample a head's mean over the drawn probes where it is "
                        "compared) has a 95% interval above 0 (reportgen.ranking); NULL where `mean` is NULL"),
))

FAITHFULNESS = Table("faithfulness", "what removing a probe's top-ranked words does to the attribution target "
                                     "(DeYoung et al. 2020, ERASER): removed words' tokens are replaced by the "
                                     "attribution baseline token", (
    ("sentence_id", "INTEGER", "a probe"),
    ("ranking", "VARCHAR", "how the words are ranked: 'integrated_gradients' (by signed score, highest first), "
                           "'rollout' (the read-out's rollout after the last layer), 'attention' (the read-out's "
                           "attention in the head of `layer` and `head`: the head with the highest mean rho in "
                           "`attribution_agreement`), 'length' (characters, longest first) or 'random' (the mean "
                           "over 5 seeded random orders); ties in the order of the words"),
    ("layer", "INTEGER", "the head's block for 'attention'; NULL otherwise"),
    ("head", "INTEGER", "the head for 'attention'; NULL otherwise"),
    ("k", "INTEGER", "the bin, in percent of the probe's words: 1, 5, 10, 20 or 50; NULL for the AOPC (the mean over "
                     "the bins, as ERASER's code averages them)"),
    ("words", "INTEGER", "the top words removed (kept, for sufficiency): k% of the probe's words rounded down, at "
                         "least 1; NULL for the AOPC"),
    ("comprehensiveness", "DOUBLE", "f(probe) - f(probe without those words): f the target of "
                                    "`attribution_targets`"),
    ("sufficiency", "DOUBLE", "f(probe) - f(only those words: every other word of the probe removed)"),
))
