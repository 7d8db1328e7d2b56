"""The tables of the logit lens (analyses/logit_lens.py): what each layer of a causal LM predicts at each token of
each probe. Here, at the store's level, so that the pages read them without importing the computation."""

from __future__ import annotations

from .table import Table

LAYER = ("layer", "INTEGER", ("the residual stream read: -1 the embeddings (TransformerLens's `0_pre`), l >= 0 the "
                              "output of block l (`l+1_pre`; the last block's is `final_post`)"))

LOGIT_LENS = Table("logit_lens", "what one layer predicts at one token of a probe: the residual stream there, put "
                                 "through the model's final norm and its unembedding (nostalgebraist's logit lens)", (
    ("sentence_id", "INTEGER", "the probe"),
    LAYER,
    ("token_idx", "INTEGER", "the position in the probe's tokens (the prediction is of the token after it)"),
    ("next_token_id", "INTEGER", "the probe's actual next token (token_idx + 1); NULL at the last token"),
    ("next_prob", "DOUBLE", "the probability the layer gives the actual next token (NULL at the last token)"),
    ("next_rank", "INTEGER", ("the actual next token's rank among the vocabulary: 1 + the number of tokens given a "
                             "higher probability (1: the layer's top prediction; NULL at the last token)")),
    ("kl", "DOUBLE", ("KL(final || layer) in nats: sum over the vocabulary of p_final (ln p_final - ln p_layer), the "
                     "last block's distribution (the model's own) against this layer's (0 for the last block)")),
))

LOGIT_LENS_TOP = Table("logit_lens_top", "one of the tokens one layer predicts most at one token of a probe", (
    ("sentence_id", "INTEGER", "the probe"),
    LAYER,
    ("token_idx", "INTEGER", "the position in the probe's tokens"),
    ("rank", "INTEGER", "1: the most probable, up to the `logit_lens` option's number"),
    ("token_id", "INTEGER", "the predicted token's id"),
    ("token", "VARCHAR", "the predicted token, as the tokenizer writes it (as in `tokens.text`)"),
    ("prob", "DOUBLE", "its probability"),
))

TABLES = (LOGIT_LENS, LOGIT_LENS_TOP)
