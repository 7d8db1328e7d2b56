"""What a head's attention goes to, defined once: the groups of key tokens that the head statistics measure over
the corpus (analyses/headstats.py, in torch on the model's device) and that the sentence pages name for one probe
(in numpy, from the stored attention).

Keys a query token's attention can go to: the first token of the sentence; its last special token ([SEP], EOS)
where that is not the first; special tokens; tokens of punctuation words; and, relative to the query, the previous
token, the token itself and the next one.
"""

from __future__ import annotations

import numpy as np

KEY_GROUPS = ("first", "last", "special", "punct")  # the columns of `key_groups`

# What a head attends to on a sentence, as the head statistics measure it over the corpus, with 'rest' for the
# attention none of the others covers. They overlap: [CLS] is both 'first' and 'special'.
PATTERNS = {
    "prev": "the previous token",
    "self": "the token itself",
    "next": "the next token",
    "first": "the first token",
    "special": "special tokens",
    "punct": "punctuation",
    "rest": "every other token (not previous, itself, next, first, special or punctuation)",
}


def last_special(mask: np.ndarray, special: np.ndarray) -> np.ndarray:
    """[B] the position of each sentence's last special token, -1 where it has none (mask, special [B, T])."""
    positions = np.arange(mask.shape[1])
    return np.where(special & mask, positions, -1).max(1)


def key_groups(mask: np.ndarray, special: np.ndarray, punct: np.ndarray) -> np.ndarray:
    """[B, T, 4] float32 indicators of the keys of each group of KEY_GROUPS (mask, special, punct [B, T]); a
    sentence without a last special token marks its first token as 'last' (its queries are not counted there)."""
    b, t = mask.shape
    out = np.zeros((b, t, len(KEY_GROUPS)), dtype=np.float32)
    out[:, 0, 0] = 1
    out[np.arange(b), np.maximum(last_special(mask, special), 0), 1] = 1
    out[..., 2], out[..., 3] = special, punct
    return out


def attention_patterns(attention: np.ndarray, special: np.ndarray, punct: np.ndarray) -> dict[str, np.ndarray]:
    """Each pattern of PATTERNS as a [L, H] mean over the query tokens of one sentence's attention [L, H, T, T]:
    the weight on the previous token (over the tokens that have one), on the token itself, on the next token (over
    the tokens that have one), on the first token, on special tokens and on punctuation (`special`, `punct`: [T]
    booleans of the key tokens), and on every other token."""
    n = attention.shape[-1]
    zeros = np.zeros(attention.shape[:2])
    groups = key_groups(np.ones((1, n), bool), np.asarray(special, bool)[None], np.asarray(punct, bool)[None])[0]
    near = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :]) <= 1  # previous, itself, next
    rest = ~near & ~np.asarray(special, bool)[None, :] & ~np.asarray(punct, bool)[None, :]
    rest[:, groups[:, 0] > 0] = False  # nor the first token
    return {
        "prev": np.diagonal(attention, -1, -2, -1).mean(-1) if n > 1 else zeros,
        "self": np.diagonal(attention, 0, -2, -1).mean(-1),
        "next": np.diagonal(attention, 1, -2, -1).mean(-1) if n > 1 else zeros,
        "first": attention[..., groups[:, 0] > 0].sum(-1).mean(-1),
        "special": (attention * groups[:, 2].astype(float)).sum(-1).mean(-1),
        "punct": (attention * groups[:, 3].astype(float)).sum(-1).mean(-1),
        "rest": (attention * rest).sum(-1).mean(-1),
    }


def dominant_patterns(attention: np.ndarray, special: np.ndarray,
                      punct: np.ndarray) -> list[list[tuple[str, float]]]:
    """[layer][head] -> (the largest pattern of `attention_patterns`, its value); a tie goes to the pattern
    listed first in PATTERNS."""
    found = attention_patterns(attention, special, punct)
    names = list(PATTERNS)
    stacked = np.stack([found[name] for name in names])  # [P, L, H]
    best = stacked.argmax(0)
    return [[(names[best[layer, head]], float(stacked[best[layer, head], layer, head]))
             for head in range(stacked.shape[2])] for layer in range(stacked.shape[1])]
