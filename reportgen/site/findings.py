"""What a set of matches says against the corpus: histograms with base rates and lifts, and the sentences
the pages write from them. Pure functions of counts; the store supplies the counts, `views` the pages.

A share of matches is a finding only when it departs from the corpus. Each category of a histogram carries
its base rate: its share of the population the matches are drawn from (every non-special corpus token, or
the tokens those attend to most, see `baserates`). Its lift is share / base rate. A category is
*over-represented* when its lift is at least MIN_LIFT, it counts at least MIN_COUNT matches and at least
MIN_SHARE of them; the summary lines name only those, and say "no clear preference" otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..vocab import count

MIN_LIFT = 2.0  # at least twice as common among the matches as in the corpus
MIN_COUNT = 5  # ... in at least this many matches
MIN_SHARE = 0.10  # ... and at least this share of them
DIVERSE = 0.5  # warn when the matches come from fewer distinct sentences than this share of the matches

ATTENDS_TO = {"-3": "the token three before", "-2": "the token two before", "-1": "the previous token",
              "0": "themselves", "+1": "the next token", "+2": "the token two after", "+3": "the token three after",
              "further": "a token more than three away", "special": "a special token"}


def percent(n: float, total: float) -> str:
    """A share as a whole percentage, half up (as the page script rounds)."""
    return f"{int(100 * n / total + 0.5)}%"


def times(lift: float) -> str:
    """A lift to one decimal, half up (as the page script rounds)."""
    return "×∞" if lift == float("inf") else f"×{int(10 * lift + 0.5) / 10:.1f}"


@dataclass(frozen=True)
class Bar:
    label: str
    n: int
    base: float  # the category's share of the corpus population, 0..1


@dataclass(frozen=True)
class Histogram:
    """Counts of one annotation over a set of matches (largest first, or in a fixed order), with base rates."""

    title: str
    bars: tuple[Bar, ...]
    # the probe tokens' own share of each category, where the histogram is of all probe tokens' matched tokens: what
    # the shares would be if every match shared its probe token's category (the probe set's own mix)
    own: Mapping[str, float] | None = None

    @property
    def total(self) -> int:
        return sum(b.n for b in self.bars)

    def lift(self, bar: Bar) -> float:
        return bar.n / self.total / bar.base if bar.base > 0 else float("inf")

    def count(self, label: str) -> int:
        return sum(b.n for b in self.bars if b.label == label)

    def over_represented(self) -> list[Bar]:
        """The categories that are over-represented against the corpus, most matches first."""
        total = self.total
        found = [b for b in self.bars
                 if b.n >= MIN_COUNT and b.n >= MIN_SHARE * total and self.lift(b) >= MIN_LIFT]
        return sorted(found, key=lambda b: (-b.n, b.label))

    def caption(self) -> str:
        """The numbers the chart shows, as text (the page reads without JavaScript)."""
        if not self.bars:
            return f"{self.title}: no matches."
        total = self.total
        return f"{self.title} ({matches(total)}): " + ", ".join(
            f"{b.label} {b.n:,} ({percent(b.n, total)}; corpus {_base(b.base)}, {times(self.lift(b))}"
            f"{self._own(b)})" for b in self.bars) + "."

    def _own(self, bar: Bar) -> str:
        """'; probes' own 16%, ×1.0': the bar against the probe set's own mix, where the histogram has one."""
        if self.own is None:
            return ""
        own = self.own.get(bar.label, 0.0)
        lift = bar.n / self.total / own if own > 0 else float("inf")
        return f"; probes' own {_base(own)}, {times(lift)}"


def _base(share: float) -> str:
    return "under 1%" if 0 < share < 0.005 else percent(share, 1)


def base_shares(base: Mapping[str, int]) -> dict[str, float]:
    """The population's counts (category -> n) as shares, rounded as the page data carry them, so that the page
    script's captions read the same."""
    population = sum(base.values())
    return {label: round(n / population, 5) for label, n in base.items()} if population else {}


def histogram(title: str, counts: Sequence[tuple[str, int]], shares: Mapping[str, float],
              order: Sequence[str] | None = None, own: Mapping[str, int] | None = None) -> Histogram:
    """Counts (category, n) and the population's shares (category -> share: `base_shares`) -> a histogram with
    base rates; `order` fixes the order of the bars (the offsets), otherwise largest first; `own` (category -> n):
    the probe set's own mix the matches are also compared with (shares rounded as the base rates are)."""
    bars = [Bar(label, n, shares.get(label, 0.0)) for label, n in counts]
    if order is not None:
        rank = {c: i for i, c in enumerate(order)}
        bars.sort(key=lambda b: rank[b.label])
    else:
        bars.sort(key=lambda b: (-b.n, b.label))
    mix = None
    if own is not None:
        whole = sum(own.values())
        mix = {label: round(n / whole, 5) if whole else 0.0 for label, n in own.items()}
    return Histogram(title, tuple(bars), mix)


def matches(n: int) -> str:
    return f"{n:,} match{'' if n == 1 else 'es'}"


def summarise(offsets: Histogram, matched: Histogram, attended: Histogram) -> str:
    """The over-represented offsets and POS of a set of matches, in one line, or 'no clear preference'."""
    if not offsets.bars:
        return "No matches."
    parts = []
    found = offsets.over_represented()
    if found:
        total = offsets.total
        parts.append(" or ".join(f"{percent(b.n, total)} ({b.n:,}/{total:,}; corpus {_base(b.base)}) attend most "
                                 f"to {ATTENDS_TO[b.label]}" for b in found))
    else:
        parts.append("no clear preference in where they attend")
    for hist, whose in ((matched, "the matched tokens"), (attended, "the tokens they attend to most")):
        found = hist.over_represented()
        if found:
            total = hist.total
            own = hist.own or {}
            parts.append(" and ".join(f"{b.label} ({percent(b.n, total)} = {b.n:,}/{total:,}; corpus {_base(b.base)}"
                                      + (f"; probes' own {_base(own.get(b.label, 0.0))}" if hist.own else "") + ")"
                                      for b in found)
                         + f" {'is' if len(found) == 1 else 'are'} over-represented among {whose}")
        else:
            parts.append(f"no clear POS preference among {whose}")
    line = "; ".join(parts) + "."
    return line[0].upper() + line[1:]


def corpus_pattern(offsets: Mapping[str, int], where: str) -> str:
    """Where the corpus tokens attend most in a head (or a layer's mean): the base rate of the offsets, stated
    as a fact of the head, since the matches' offsets are compared with it and so cannot show it."""
    total = sum(offsets.values())
    if not total:
        return ""
    label, n = min(offsets.items(), key=lambda item: (-item[1], item[0]))
    return (f"In {where}, {percent(n, total)} of the {total:,} corpus tokens (special tokens left out) attend most to "
            f"{ATTENDS_TO[label].replace('themselves', 'themselves (the token itself)')}.")


def own_category(hist: Histogram, label: str, base: float, what: str) -> str:
    """How many matches share the probe token's own POS or dependency, against the corpus."""
    total = hist.total
    n = hist.count(label)
    return (f"{percent(n, total) if total else '0%'} ({n:,}/{total:,}) share its {what} {label} "
            f"(corpus {_base(base)})")


def diversity(n_matches: int, n_sentences: int) -> tuple[str, str | None]:
    """'50 matches from 9 sentences', and a warning when few distinct sentences give many matches."""
    text = f"{matches(n_matches)} from {count(n_sentences, 'corpus sentence')}"
    if n_matches and n_sentences < DIVERSE * n_matches:
        give = "gives" if n_sentences == 1 else "give"
        return text, (f"Few distinct sentences: {count(n_sentences, 'sentence')} {give} "
                      f"{count(n_matches, 'match', 'matches')}, so these may be look-alike sentences rather than "
                      f"look-alike tokens")
    return text, None


def ties(n_matches: int, score: float, tied_kept: int, tied_dropped: int, open_ended: bool = False) -> str:
    """The tie at the cut: how many kept matches share the last score with contexts that were not kept ('at least'
    where the search could not count every one: cut_ties.open_ended)."""
    who = (f"all {tied_kept:,} tie" if tied_kept == n_matches and tied_kept > 1
           else f"the last {tied_kept:,} tie" if tied_kept > 1 else "the last match ties")
    more = f"{'at least ' if open_ended else ''}{count(tied_dropped, 'more corpus context')}"
    return (f"Ties at the cut: {who} at {score:.3f} with {more} that "
            f"{'was' if tied_dropped == 1 else 'were'} not kept; the ones shown are a pseudo-random sample of "
            f"them, not the best")


def same_form(same: int, every: int) -> str:
    """How many of a space's matches are the probe token's own word form: such a match says the space keeps the
    word, not what else it encodes."""
    return (f"{percent(same, every)} of these {every:,} matches ({same:,}) are the probe token's own word form "
            f"(the same word, case aside): those say the space keeps the word itself, not what else it encodes.")
