"""What a head's attention goes to, defined once: the groups of key tokens that the head statistics measure over
the corpus (analyses/headstats.py, in torch on the model's device) and that the sentence pages measure on one
probe (in numpy, from the stored attention), and the rules that name a head's pattern from those shares: the
roles of analyses/roles.py (which add the syntax rule before these) and the sentence pages' table of heads use the
same names and thresholds.

Keys a query token's attention can go to: the first token of the sentence; its last special token ([SEP], EOS)
where that is not the first; special tokens; tokens of punctuation words; and, relative to the query, the previous
token, the token itself and the next one.
"""

from __future__ import annotations

import numpy as np

KEY_GROUPS = ("first", "last", "special", "punct")  # the columns of `key_groups`

POSITIONAL = 0.50  # Clark et al.'s POSITION_THRESHOLD: a previous- or next-token head (above it)
SINK = 0.60  # Clark et al.'s SPECIAL_TOKEN_THRESHOLD, for [CLS], [SEP] and punctuation (above it)
BROAD = 0.85  # ours: normalised entropy (Clark et al.'s 3.8 nats is for 128-token segments)
POSITIONS = {"prev": ("previous", "previous token"), "next": ("next", "next token"), "self": ("self", "itself")}
SINKS = ("first", "last", "special", "punct")  # in the order the sink rule tries them
SHARES = ("self", "prev", "next", "first", "last", "special", "punct")


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


def sentence_shares(attention: np.ndarray, special: np.ndarray, punct: np.ndarray,
                    causal: bool = False) -> dict[str, np.ndarray]:
    """One sentence's head statistics, [L, H] each, from its attention [L, H, T, T] (`special`, `punct`: [T]
    booleans of the tokens): the shares of SHARES as the head statistics define them (means over the query tokens
    that have them: a previous token, a next token, a last special token) and the normalised entropy."""
    n = attention.shape[-1]
    a = np.asarray(attention, dtype=np.float64)
    groups = key_groups(np.ones((1, n), bool), np.asarray(special, bool)[None], np.asarray(punct, bool)[None])[0]
    last = int(last_special(np.ones((1, n), bool), np.asarray(special, bool)[None])[0])
    out = {"self": np.diagonal(a, 0, -2, -1).mean(-1),
           "first": a[..., 0].mean(-1),
           "special": (a * groups[:, 2]).sum(-1).mean(-1),
           "punct": (a * groups[:, 3]).sum(-1).mean(-1)}
    if n > 1:
        out["prev"] = np.diagonal(a, -1, -2, -1).mean(-1)
        out["next"] = np.diagonal(a, 1, -2, -1).mean(-1)
    if last > 0:
        out["last"] = a[..., last].mean(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(a > 0, a * np.log(a), 0.0).sum(-1)  # [L, H, T]
        keys = np.arange(1, n + 1) if causal else np.full(n, n)
        out["entropy_norm"] = np.where(keys > 1, entropy / np.log(np.maximum(keys, 2)), 0.0).mean(-1)
    return out


def describe(value: dict[str, float], names: dict[str, str]) -> tuple[str, str]:
    """(role, evidence) of a head from its shares and normalised entropy (one head's `value` of SHARES and
    'entropy_norm'), by the first rule that applies: a position above POSITIONAL (the largest), a sink above SINK
    (first, last, special tokens together, punctuation), broad attention (normalised entropy at least BROAD),
    else mixed. `names`: the model's first and last special tokens ({'first': '[CLS]', 'last': '[SEP]'}). A sink's
    evidence adds its share of what attention moves (`<stat>_by_norm`) where `value` has it."""
    positional = max((s for s in POSITIONS if s in value), key=lambda s: value[s], default=None)
    if positional is not None and value[positional] > POSITIONAL:
        key, words = POSITIONS[positional]
        return key, f"{words} ({value[positional]:.2f} of attention)"
    for stat, words in (("first", f"{names.get('first') or 'first-token'} sink"),
                        ("last", f"{names.get('last') or 'last-token'} sink"),
                        ("special", "special-token sink"), ("punct", "punctuation")):
        if value.get(stat, 0.0) > SINK:
            moved = value.get(f"{stat}_by_norm")  # where the corpus pass measured what attention moves
            return stat, (f"{words} ({value[stat]:.2f} of attention" +
                          (f", {moved:.2f} of what it moves)" if moved is not None else ")"))
    if value["entropy_norm"] >= BROAD:
        return "broad", f"broad (normalised entropy {value['entropy_norm']:.2f})"
    largest = sorted((s for s in SHARES if s in value), key=lambda s: -value[s])[:2]
    shares = " and ".join(f"{s} {value[s]:.2f}" for s in largest)
    return "mixed", (f"mixed: its largest shares, {shares}, are under the thresholds, and its normalised entropy "
                     f"{value['entropy_norm']:.2f} is not broad")


def pattern_roles(values: dict[str, np.ndarray], sink: float = SINK) -> np.ndarray:
    """The role `describe` gives, for many heads at once: `values` maps each statistic to an array (every array of
    one shape: heads, or resamples x heads); an array of role names of that shape, by describe's rules and order,
    the sink rule at threshold `sink` (SINK is the report's). NaN (a statistic a resample has no sentence for) meets
    no threshold."""
    shape = np.shape(values["entropy_norm"])
    out = np.full(shape, "mixed", dtype=object)
    decided = np.zeros(shape, dtype=bool)
    positions = [s for s in POSITIONS if s in values]
    if positions:
        stacked = np.nan_to_num(np.stack([np.asarray(values[s], dtype=np.float64) for s in positions]), nan=-np.inf)
        top = np.argmax(stacked, axis=0)  # the first largest, as describe's max over POSITIONS
        hit = np.take_along_axis(stacked, top[None], axis=0)[0] > POSITIONAL
        out[hit] = np.array([POSITIONS[s][0] for s in positions], dtype=object)[top[hit]]
        decided |= hit
    for stat in SINKS:
        if stat in values:
            hit = ~decided & (np.nan_to_num(values[stat], nan=-np.inf) > sink)
            out[hit] = stat
            decided |= hit
    out[~decided & (np.nan_to_num(values["entropy_norm"], nan=-np.inf) >= BROAD)] = "broad"
    return out


# the statistic that decides each role of `describe`: its share, or a broad head's normalised entropy
DECIDING = {"previous": "prev", "next": "next", "self": "self", "first": "first", "last": "last",
            "special": "special", "punct": "punct", "broad": "entropy_norm"}


def headline(role: str, value: dict[str, float]) -> float:
    """The number that names a head's role: the share that earned it, the normalised entropy of a broad head, or
    a mixed head's largest share."""
    if role in DECIDING:
        return float(value[DECIDING[role]])
    return float(max(value[s] for s in SHARES if s in value))


def special_names(tokens) -> dict[str, str]:
    """A sentence's first token and last special token (TokenRow or encode.Token), where they are special tokens,
    as the roles name sinks ('[CLS]', '[SEP]')."""
    names = {"first": tokens[0].text} if tokens and tokens[0].is_special else {}
    last = [t for t in tokens[1:] if t.is_special]
    return names | ({"last": last[-1].text} if last else {})
