"""The tables of the head detectors of causal LMs (analyses/detectors.py): each head's scores, the roles they earn
and the ablation that confirms the induction heads. Here, at the store's level, so that the pages read them without
importing the computation."""

from __future__ import annotations

from .table import Table

HEAD_DETECTORS = Table("head_detectors", "one detector's score of one head of a causal LM: the mean over the "
                                         "sequences or sentences it is measured on, with a 95% bootstrap interval", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("detector", "VARCHAR", ("'induction' (attention from each token of the second copy to the token after its first "
                            "occurrence: prefix matching), 'previous_token' (attention to the token before), "
                            "'duplicate_token' (attention to the same token's earlier occurrence) or 'copying' (the "
                            "positive-eigenvalue fraction of the head's OV circuit W_E W_V W_O W_U)")),
    ("source", "VARCHAR", ("'repeated': the seeded repeated random token sequences; 'corpus': the corpus sentences "
                          "that repeat a token; 'control': the repeated sequences (or the weights, for 'copying') on "
                          "the randomly initialised copy of the model; 'weights': the model's own weights")),
    ("value", "DOUBLE", ("the score: a mean attention weight (0 to 1), or for 'copying' sum(eigenvalues) / "
                        "sum(|eigenvalues|) (-1 to 1)")),
    ("low", "DOUBLE", ("the 2.5th percentile of the mean over bootstrap resamples of the sequences or sentences "
                      "(NULL for 'copying')")),
    ("high", "DOUBLE", "the 97.5th percentile (NULL for 'copying')"),
    ("se", "DOUBLE", "the standard deviation of the resampled means (NULL for 'copying')"),
    ("units", "INTEGER", "the sequences or sentences averaged (NULL for 'copying')"),
))

DETECTOR_ROLES = Table("detector_roles", "one role of a causal LM's head that its detector score reaches "
                                         "(a head may have several: an induction head usually also copies)", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("role", "VARCHAR", "'induction', 'previous_token', 'duplicate_token' or 'copying'"),
    ("value", "DOUBLE", "the head's score on the repeated sequences (the weights, for 'copying')"),
    ("threshold", "DOUBLE", "the score the role needs (analyses/detectors.py THRESHOLDS)"),
    ("stability", "DOUBLE", ("the share of bootstrap resamples of the sequences in which the resampled score still "
                            "reaches the threshold (NULL for 'copying', computed from the weights alone)")),
    ("control_value", "DOUBLE", "the same head's score in the randomly initialised copy of the model"),
    ("claimed", "BOOLEAN", ("whether the score is significantly above the control's: a one-sided z-test at 0.05, "
                           "Bonferroni-corrected over the heads that reach the role's threshold (for 'copying', whose "
                           "scores have no sampling error: above every head of the control)")),
))

DETECTOR_ABLATION = Table("detector_ablation", "the in-context loss (mean next-token loss over the second copy of "
                                               "the repeated sequences) with heads removed", (
    ("removed", "VARCHAR", ("'intact' (nothing removed), 'head' (one candidate induction head), 'candidates' (every "
                           "candidate together), 'random_draw' (as many heads drawn at random from the candidates' "
                           "layers, one draw) or 'random' (the mean over the draws)")),
    ("draw", "INTEGER", "the draw ('random_draw' only)"),
    ("heads", "VARCHAR", "the heads removed, as labels separated by spaces ('' for 'intact' and 'random')"),
    ("n_heads", "INTEGER", "how many heads are removed"),
    ("loss", "DOUBLE", "the in-context loss, nats per token, the mean over the sequences"),
    ("low", "DOUBLE", "its 95% interval: over bootstrap resamples of the sequences; for 'random', over the draws"),
    ("high", "DOUBLE", "as `low`, the upper end"),
    ("increase", "DOUBLE", "loss minus the intact loss"),
    ("increase_low", "DOUBLE", ("its 95% interval, paired over the same resampled sequences (for 'random': over the "
                               "draws)")),
    ("increase_high", "DOUBLE", "as `increase_low`, the upper end"),
    ("sequences", "INTEGER", "the sequences measured"),
))

TABLES = (HEAD_DETECTORS, DETECTOR_ROLES, DETECTOR_ABLATION)
