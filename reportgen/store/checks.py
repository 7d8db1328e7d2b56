"""The tables of the head analysis's checks (declared as schema.py declares the others): Table 1 with its head
picked on half of the sentence blocks and scored on the other half, the roles' sensitivity to a threshold, and the
control model (a randomly initialised copy of the model, Adebayo et al. 2018) measured as the model is."""

from __future__ import annotations

from .table import Table

DEP_TABLE1 = Table("dep_table1", "one cell of Clark et al.'s Table 1 (a relation and a direction): its best head "
                                 "picked on one half of the sentence blocks and scored on the other, and the control "
                                 "model's best head", (
    ("relation", "VARCHAR", "as in `dep_accuracy` ('all' and every relation with a row there)"),
    ("direction", "VARCHAR", "as in `dep_accuracy`"),
    ("selected_layer", "INTEGER", "the head most accurate on the selection half (the blocks of even number: sentence "
                                  "id modulo 256 even); ties to the lowest layer, then head"),
    ("selected_head", "INTEGER", "its head"),
    ("baseline_offset", "INTEGER", "the best fixed offset on the selection half"),
    ("held_out_support", "BIGINT", "the relation's dependents in the scoring half (the blocks of odd number)"),
    ("held_out_accuracy", "DOUBLE", "the selected head's accuracy on the scoring half"),
    ("held_out_baseline", "DOUBLE", "the selected offset's accuracy on the scoring half"),
    ("held_out_margin", "DOUBLE", "`held_out_accuracy - held_out_baseline`"),
    ("held_out_low", "DOUBLE", "its 95% interval, a paired bootstrap of the scoring half's blocks: lower end"),
    ("held_out_high", "DOUBLE", "upper end"),
    ("held_out_low_corrected", "DOUBLE", "the held-out margin's interval Bonferroni-corrected over the cells m of "
                                         "Table 1 (every relation but 'all', both directions): margin - z se, z the "
                                         "normal quantile at 1 - 0.05/(2m); the interval the verdict rests on: "
                                         "lower end"),
    ("held_out_high_corrected", "DOUBLE", "upper end"),
    ("held_out_significant", "BOOLEAN", "the corrected interval lies above 0: the head picked without the scoring "
                                        "half beats position there"),
    ("held_out_below", "BOOLEAN", "the corrected interval lies below 0"),
    ("control_layer", "INTEGER", "the control model's most accurate head for the cell, over its sentences (NULL "
                                 "without a control, or where its sentences hold no such dependent)"),
    ("control_head", "INTEGER", "its head"),
    ("control_margin", "DOUBLE", "its margin over its own best fixed offset"),
    ("control_se", "DOUBLE", "that margin's bootstrap standard error"),
    ("claimed", "BOOLEAN", "the cell is claimed: `held_out_significant`, and the held-out margin lies above "
                           "`control_margin` by a one-sided z-test (z = (held-out margin - control_margin) / "
                           "sqrt(se^2 + control_se^2), se the held-out bootstrap's) at 0.05 Bonferroni-corrected "
                           "over the cells; NULL without a control figure"),
))

ROLE_SENSITIVITY = Table("role_sensitivity", "how many heads a role rule gives its role at one threshold, every "
                                             "other rule unchanged", (
    ("rule", "VARCHAR", "'sink': a first-token, last-token, special-token or punctuation share above the "
                      "threshold (Clark et al.'s 0.6 is the report's)"),
    ("threshold", "DOUBLE", "the threshold tried"),
    ("heads", "INTEGER", "the heads that get a role of the rule at it"),
))

CONTROL_HEAD_STATS = Table("control_head_stats", "one head statistic of one head of the control model (a randomly "
                                                 "initialised copy of the model), over the first "
                                                 "`control_sentences` corpus sentences", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("stat", "VARCHAR", "as in `head_stats`"),
    ("value", "DOUBLE", "its value, defined as in `head_stats`"),
    ("se", "DOUBLE", "its standard error: over 1,000 bootstrap resamples of the sentence blocks"),
))

CONTROL_DEP_ACCURACY = Table("control_dep_accuracy", "the control model's dependency accuracy of one head for one "
                                                     "relation and direction, over its sentences (every relation "
                                                     "they hold, whatever its number of dependents)", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("relation", "VARCHAR", "as in `dep_accuracy`"),
    ("direction", "VARCHAR", "as in `dep_accuracy`"),
    ("support", "BIGINT", "dependents in the control's sentences"),
    ("accuracy", "DOUBLE", "as in `dep_accuracy`"),
    ("baseline_offset", "INTEGER", "the best fixed offset on the control's sentences"),
    ("baseline_accuracy", "DOUBLE", "its accuracy"),
    ("margin_se", "DOUBLE", "the bootstrap standard error of `accuracy - baseline_accuracy` (paired, over blocks)"),
))

CONTROL_ROLES = Table("control_roles", "the role of one head of the control model, by the rules of `head_roles` "
                                       "(its syntax rule over the relations with at least `min_dep_support` "
                                       "dependents in the control's sentences)", (
    ("layer", "INTEGER", "the block"),
    ("head", "INTEGER", "the head"),
    ("role", "VARCHAR", "as in `head_roles`"),
    ("evidence", "VARCHAR", "as in `head_roles`"),
))
