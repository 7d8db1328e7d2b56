"""The names every level shares: head and layer labels, the head statistics, the base-rate facets, the dependency
directions, the head roles, the attributions' convergence rule and the edit study's constants.

Only plain values and tiny functions live here (no imports beyond the standard library), so that any module, from
the store to the pages, can use one spelling of each name.
"""

from __future__ import annotations


def head_label(layer: int, head: int) -> str:
    """The name of a head (TransformerLens' spelling): L3H7."""
    return f"L{layer}H{head}"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """'1 head', '3 heads', '1,200 sentences', '1 match' with plural='matches': the one place a count meets its
    noun, so that no page says '1 heads'."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def layer_label(layer: int) -> str:
    """The name of a layer: L3."""
    return f"L{layer}"


# the same label as a Vega expression of a datum with fields l (layer) and h (head)
HEAD_LABEL_EXPR = "'L' + datum.l + 'H' + datum.h"

# ---- the head statistics (analyses/headstats.py measures them; pages describe them) -------------------------

STATS = ("entropy", "entropy_norm", "distance", "self", "prev", "next", "first", "last", "special", "punct")
STAT_DESCRIPTIONS = {
    "entropy": "mean entropy of the attention distribution (nats)",
    "entropy_norm": "mean entropy divided by that of a uniform distribution over the same keys (0 one key, "
                    "1 uniform)",
    "distance": "mean attention distance (tokens)",
    "self": "mean attention to the token itself",
    "prev": "mean attention to the previous token",
    "next": "mean attention to the next token",
    "first": "mean attention to the first token",
    "last": "mean attention to the last special token ([SEP], EOS), apart from the first",
    "special": "mean attention to special tokens",
    "punct": "mean attention to punctuation",
}

# the shares also measured on what attention moves (Kobayashi et al. 2020): each weight alpha_ij times the norm of
# head h's f(x_j), as a share of the row's total; stored as `<stat>_by_norm`
BY_NORM = ("self", "prev", "next", "first", "last", "special", "punct")
NORM_SUFFIX = "_by_norm"
NORM_STATS = tuple(f"{s}{NORM_SUFFIX}" for s in BY_NORM)
STAT_DESCRIPTIONS |= {f"{s}{NORM_SUFFIX}": STAT_DESCRIPTIONS[s].replace("mean attention", "mean share of what "
                                                                          "attention moves (by norm)")
                      for s in BY_NORM}
# and what attention moves itself, in the units of the hidden state, as Kobayashi et al.'s figures average it (their
# `re-examine.py`): each query token's sum over a group's keys of alpha_ij |f(x_j)|, without dividing by the row's
# total; stored as `<stat>_moved`, with their punctuation ("," and "." only) beside ours
MOVED_SUFFIX = "_moved"
MOVED_GROUPS = BY_NORM + ("comma_period",)
MOVED_STATS = tuple(f"{s}{MOVED_SUFFIX}" for s in MOVED_GROUPS)
STAT_DESCRIPTIONS |= {f"{s}{MOVED_SUFFIX}": STAT_DESCRIPTIONS[s].replace("mean attention to", "mean norm of what "
                                                                           "attention moves from")
                      + " (Kobayashi et al.'s |alpha f(x)|, in the hidden state's units)" for s in BY_NORM}
STAT_DESCRIPTIONS["comma_period_moved"] = ("mean norm of what attention moves from the tokens of the words \",\" and "
                                           "\".\" (Kobayashi et al.'s punctuation and |alpha f(x)|, in the hidden "
                                           "state's units)")

# ---- corpus base rates (analyses/baserates.py counts them; pages compare matches with them) ------------------

FACETS = ("pos", "tag", "dep", "ent")
OFFSETS = ("-3", "-2", "-1", "0", "+1", "+2", "+3", "further", "special")
SPECIAL = "special"  # the category of a special token in every facet
NO_ENTITY = "none"  # the entity category of a word outside any entity

# ---- dependency accuracy (analyses/depacc.py) ----------------------------------------------------------------

DIRECTIONS = ("dependent_to_head", "head_to_dependent")
# spaCy's dependency labels (the English pipelines' ClearNLP set) in words, as spacy.explain gives them (a test
# checks each); a label not listed here is shown without a gloss
RELATION_GLOSSES = {
    "ROOT": "root", "acl": "clausal modifier of noun (adjectival clause)", "acomp": "adjectival complement",
    "advcl": "adverbial clause modifier", "advmod": "adverbial modifier", "agent": "agent",
    "amod": "adjectival modifier", "appos": "appositional modifier", "attr": "attribute", "aux": "auxiliary",
    "auxpass": "auxiliary (passive)", "case": "case marking", "cc": "coordinating conjunction",
    "ccomp": "clausal complement", "compound": "compound", "conj": "conjunct", "csubj": "clausal subject",
    "csubjpass": "clausal subject (passive)", "dative": "dative", "dep": "unclassified dependent",
    "det": "determiner", "dobj": "direct object", "expl": "expletive", "intj": "interjection", "mark": "marker",
    "meta": "meta modifier", "neg": "negation modifier", "nmod": "modifier of nominal",
    "npadvmod": "noun phrase as adverbial modifier", "nsubj": "nominal subject",
    "nsubjpass": "nominal subject (passive)", "nummod": "numeric modifier", "oprd": "object predicate",
    "parataxis": "parataxis", "pcomp": "complement of preposition", "pobj": "object of preposition",
    "poss": "possession modifier", "preconj": "pre-correlative conjunction",
    "prep": "prepositional modifier", "prt": "particle", "punct": "punctuation",
    "quantmod": "modifier of quantifier", "relcl": "relative clause modifier", "xcomp": "open clausal complement",
    "all": "every word",
}
ALL_RELATIONS = "all"  # the dep_accuracy row of every arc together


def direction_words(direction: str) -> str:
    """'dependent_to_head' -> 'dependent to head'."""
    return direction.replace("_", " ")


# ---- head roles (analyses/roles.py) ----------------------------------------------------------------------------

ROLES = ("syntax", "previous", "next", "self", "first", "last", "special", "punct", "broad", "mixed")
# each role in short, as the overview's heatmap cells and the sentence pages' table of heads show it
ROLE_CODES = {"syntax": "syn", "previous": "prev", "next": "next", "self": "self", "first": "first",
              "last": "last", "special": "spec", "punct": "punct", "broad": "broad", "mixed": "mix"}
# a relation cell earns the syntax role (and is a head's best relation) when its margin over the positional baseline
# is at least SYNTAX_MARGIN and significant, with an accuracy of at least SYNTAX_FLOOR (both ours)
SYNTAX_MARGIN = 0.10
SYNTAX_FLOOR = 0.30
# a role that fewer than this share of the bootstrap resamples give the head again is marked unstable (ours)
STABLE = 0.80

# ---- attributions (analyses/attribution.py) ------------------------------------------------------------------

# integrated gradients have not converged when |delta| exceeds this share of |f(input) - f(baseline)| (and
# DELTA_FLOOR in absolute terms)
DELTA_SHARE = 0.05
DELTA_FLOOR = 1e-3


# the attention rows each target is computed from (analyses/agreement.py), in words
READOUT_WORDS = {
    "first": "the first token's row ([CLS]), which the classifier's head reads",
    "last": "the last token's row, from which the output is computed",
    "continuation": "the rows that predict the continuation's tokens (their mean)",
    "mean": "the mean of every token's row, as the mean pooling averages them",
}
# a head whose read-out sends less than this share of its attention to the probe's words (the rest to special
# tokens) is not compared with the gradients on that probe: its ranking of the words rests on crumbs
WORD_SHARE_FLOOR = 0.10
# a comparison over the probes (a head against a baseline, one ranking of words against another) is claimed over no
# fewer probes: a bootstrap over fewer says little
MIN_PROBES = 5


def converged(delta: float, value: float, baseline_value: float) -> bool:
    """Whether Captum's convergence delta is small enough against the difference the attributions explain."""
    return abs(delta) <= max(DELTA_SHARE * abs(value - baseline_value), DELTA_FLOOR)


# ---- the edit study (studies/) -------------------------------------------------------------------------------

STUDY = "edits"
EDIT_LABELS = {0: "unedited", 1: "edited"}
ALL_EDITS = "all"  # the study_figures rows of every edit type together
EDIT_TYPES = ("misspelling", "swap", "insertion", "agreement", "deletion", "comma")
UNEDITED = "none"
MEASURES = ("interpretable", "exact_match", "jaccard")
# Stevens & Su (2020), BERT fine-tuned on AESW (their data): the share of edited sentences whose gold words are
# all in the top 3 by final-layer [CLS] attention, and for random rankings, beside the edit type of ours that is
# theirs: their "deleted words" are words the editor deleted, present in the input (our insertion); their spelling
# edits mark the misspelled word (our misspelling). Our other types have no figure in the paper.
PAPER = {"misspelling": ("spelling edits", 0.80, 0.12), "insertion": ("deleted words", 0.71, 0.13)}
SUBSETS = ("flagged", "all")  # the edited test sentences the classifier predicted as edited (theirs), or every one
