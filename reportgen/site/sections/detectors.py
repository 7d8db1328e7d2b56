"""The head detectors of causal LMs on the pages (analyses/detectors.py): a head page's scores and roles, the
overview's section with the roles and the induction heads' ablation, its Finding and the table of heads' column.
A report without the detectors' rows (an encoder, a classifier) shows none of them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ...store.detector_tables import DETECTOR_ABLATION, DETECTOR_ROLES, HEAD_DETECTORS
from ...unit import Section
from ...vocab import head_label
from ..views.summary import Finding, Part, join
from . import cached
from .roles import Column

TEMPLATE = "sections/detectors.html"
NAMES = {"induction": "induction (prefix matching)", "previous_token": "previous token",
         "duplicate_token": "duplicate token", "copying": "copying (OV circuit)"}
ORDER = tuple(NAMES)
REMOVED = {"intact": "nothing (the intact model)", "head": "one induction head",
           "candidates": "every induction head above together", "random_draw": "random heads of the same layers",
           "random": "random heads of the same layers, the mean over the draws"}


@dataclass(frozen=True)
class Score:
    detector: str  # in words
    repeated: str  # '0.8213 [0.7990, 0.8421]' or ''
    corpus: str
    control: str


@dataclass(frozen=True)
class RoleLine:
    role: str
    text: str  # its figure, threshold, stability and the control's test in words
    claimed: bool


@dataclass(frozen=True)
class HeadDetectors:
    """A head page's section."""

    label: str
    scores: tuple[Score, ...]
    roles: tuple[RoleLine, ...]
    ablation: str  # the in-context loss with this head removed, in words, or ''


@dataclass(frozen=True)
class Removal:
    removed: str
    heads: tuple[tuple[str, str], ...]  # (label, href)
    loss: str
    increase: str


@dataclass(frozen=True)
class RoleHeads:
    role: str
    claimed: tuple[tuple[str, str, str], ...]  # (label, href, figure)
    unclaimed: int  # heads that reach the threshold without beating the control


@dataclass(frozen=True)
class ModelDetectors:
    """The overview's section."""

    sequences: str
    tokens: str
    bos: str
    sentences: str
    copying: str
    seed: str
    roles: tuple[RoleHeads, ...]
    removals: tuple[Removal, ...]
    candidates: str


def _interval(value: float, low: float | None, high: float | None) -> str:
    return f"{value:.4f}" if low is None else f"{value:.4f} [{low:.4f}, {high:.4f}]"


def _read(report) -> dict:
    store = report.store
    scores: dict = defaultdict(dict)
    for r in store.rows(HEAD_DETECTORS):
        scores[(r.layer, r.head)][(r.detector, r.source)] = r
    roles: dict = defaultdict(list)
    for r in store.rows(DETECTOR_ROLES):
        roles[(r.layer, r.head)].append(r)
    order = {name: i for i, name in enumerate(REMOVED)}
    ablation = sorted(store.rows(DETECTOR_ABLATION), key=lambda r: (order[r.removed], r.draw or 0, r.heads))
    return {"scores": dict(scores), "roles": dict(roles), "ablation": ablation}


def detectors(report) -> dict:
    return cached(report, "detectors", lambda: _read(report))


def _role_text(r) -> str:
    stable = "" if r.stability is None else f", reached in {100 * r.stability:.0f}% of the resampled sequence sets"
    control = ("" if r.control_value is None else
               f"; the random model's same head: {r.control_value:.4f}, " + (
                   "significantly lower: claimed" if r.claimed else "not significantly lower: not claimed"))
    return f"{r.value:.4f}, threshold {r.threshold:g}{stable}{control}"


def _loss(r) -> tuple[str, str]:
    return (f"{r.loss:.4f} [{r.low:.4f}, {r.high:.4f}]",
            "" if r.removed == "intact" else f"{r.increase:+.4f} [{r.increase_low:+.4f}, {r.increase_high:+.4f}]")


def head_view(report, layer: int, head: int) -> HeadDetectors | None:
    found = detectors(report)
    mine = found["scores"].get((layer, head))
    if not mine:
        return None

    def text(detector: str, source: str) -> str:
        r = mine.get((detector, source))
        return "" if r is None else _interval(r.value, r.low, r.high)

    scores = tuple(Score(NAMES[d], text(d, "weights" if d == "copying" else "repeated"), text(d, "corpus"),
                         text(d, "control")) for d in ORDER if any(k[0] == d for k in mine))
    roles = tuple(RoleLine(NAMES[r.role], _role_text(r), bool(r.claimed))
                  for r in found["roles"].get((layer, head), ()))
    label = head_label(layer, head)
    removal = next((r for r in found["ablation"] if r.removed == "head" and r.heads == label), None)
    ablation = ""
    if removal is not None:
        loss, increase = _loss(removal)
        ablation = f"{loss} nats per token, a change of {increase} from the intact model"
    return HeadDetectors(label, scores, roles, ablation)


def model_view(report) -> ModelDetectors | None:
    found = detectors(report)
    if not found["scores"]:
        return None
    meta = report.meta
    by_role: dict = defaultdict(list)
    for rows in found["roles"].values():
        for r in rows:
            by_role[r.role].append(r)
    roles = []
    for role in ORDER:
        rows = sorted(by_role.get(role, ()), key=lambda r: (-r.value, r.layer, r.head))
        claimed = tuple((head_label(r.layer, r.head), f"heads/{head_label(r.layer, r.head)}.html", f"{r.value:.4f}")
                        for r in rows if r.claimed)
        roles.append(RoleHeads(NAMES[role], claimed, sum(not r.claimed for r in rows)))
    removals = []
    for r in found["ablation"]:
        heads = tuple((h, f"heads/{h}.html") for h in r.heads.split())
        removals.append(Removal(REMOVED[r.removed] + (f" (draw {r.draw + 1})" if r.draw is not None else ""), heads,
                                *_loss(r)))
    return ModelDetectors(meta.get("detector_sequences_measured", ""), meta.get("detector_tokens", ""),
                          meta.get("detector_bos", ""), meta.get("detector_sentences_measured", ""),
                          meta.get("detector_copying", ""), meta.get("option.detector_seed", "0"), tuple(roles),
                          tuple(removals), meta.get("detector_candidates", ""))


def finding(report) -> Finding | None:
    found = model_view(report)
    if found is None:
        return None
    induction = found.roles[0]
    parts = [Part(f"Induction heads, on {found.sequences} repeated random token sequences (Olsson et al.): ")]
    if not induction.claimed:
        parts.append(Part("none is claimed (no head's prefix-matching score reaches the threshold and beats the "
                          "random model's same head)"))
    else:
        parts += join([[Part(label, href), Part(f" ({figure})")] for label, href, figure in induction.claimed])
        rows = {r.removed: r for r in detectors(report)["ablation"]}
        together, random, intact = rows.get("candidates"), rows.get("random"), rows.get("intact")
        if together is not None and intact is not None:
            parts.append(Part(f"; removing the {together.n_heads} highest together changes the in-context loss from "
                              f"{intact.loss:.3f} to {together.loss:.3f} nats per token ({together.increase:+.3f} "
                              f"[{together.increase_low:+.3f}, {together.increase_high:+.3f}])"))
            if random is not None:
                parts.append(Part(f", against {random.increase:+.3f} (from {random.increase_low:+.3f} to "
                                  f"{random.increase_high:+.3f} over the draws) for as many random heads of the "
                                  f"same layers"))
    return Finding("detectors", tuple(parts + [Part(". "), Part("Induction and other heads", "#detectors"),
                                               Part(".")]))


def column(report) -> Column | None:
    found = detectors(report)
    if not found["scores"]:
        return None
    cells = {}
    for (layer, head) in sorted(found["scores"]):
        claimed = [r.role.replace("_", "-") for r in found["roles"].get((layer, head), ()) if r.claimed]
        cells[head_label(layer, head)] = (", ".join(claimed), ", ".join(claimed))
    return Column("detected roles", cells)


SECTIONS = (
    Section("head", "detectors", "Induction and other detectors", TEMPLATE, "head", 22, head_view),
    Section("index", "detectors", "Induction and other heads", TEMPLATE, "index", 62, model_view),
    Section("heads-column", "detectors", "", "", "", 12, column),
    Section("findings", "detectors", "", "", "", 72, finding),
)
