"""The map of the heads on the overview: every head in 2-D (head_map, MDS of the Jensen-Shannon distances), how
faithful the layout is to the measured distances, and the same points as a table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...vocab import head_label
from ..charts import heads as headcharts

LABEL_ALL_UP_TO = 100  # heads: every point is labelled; a larger model labels the points the map places worst


@dataclass(frozen=True)
class MapPoint:
    label: str
    href: str
    x: float
    y: float
    role: str
    nearest: str  # the most similar head (by the measured distance)


@dataclass(frozen=True)
class HeadMap:
    chart: dict
    correlation: float  # Spearman's rho between the map's distances and the measured ones, over every pair
    stress: float  # Kruskal's stress-1 of the map's distances against the measured ones
    points: tuple[MapPoint, ...]  # the text alternative

    @property
    def faithfulness(self) -> str:
        return (f"the map's distances rank-correlate with the measured ones at {self.correlation:.2f} (Spearman's "
                f"rho over every pair of heads) with a stress of {self.stress:.2f} (Kruskal's stress-1: 0 would be "
                f"exact)")


def fit(xy: np.ndarray, distances: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(Spearman's rho, Kruskal's stress-1, each point's share of the squared error) of a 2-D layout xy [N, 2]
    against the measured distances [N, N], over every pair."""
    from scipy.stats import spearmanr

    drawn = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    upper = np.triu_indices(len(xy), 1)
    rho = float(spearmanr(drawn[upper], distances[upper]).statistic)
    error = (drawn - distances) ** 2
    stress = float(np.sqrt(error[upper].sum() / (distances[upper] ** 2).sum()))
    return rho, stress, error.sum(1) / error.sum()


def head_map(store, roles: dict, nearest: dict, n_layers: int, n_heads: int) -> HeadMap | None:
    """The map of every head, or None where the report has none."""
    found = store.head_map() if store.has_table("head_map") else []
    if len(found) < 3:
        return None
    index = {(p.layer, p.head): i for i, p in enumerate(found)}
    distances = np.zeros((len(found), len(found)))
    for d in store.head_distances():
        distances[index[(d.layer_a, d.head_a)], index[(d.layer_b, d.head_b)]] = d.distance
    xy = np.array([[p.x, p.y] for p in found])
    rho, stress, worst = fit(xy, distances)
    labelled = set(range(len(found))) if len(found) <= LABEL_ALL_UP_TO else set(np.argsort(-worst)[:20].tolist())
    points = [{"l": p.layer, "h": p.head, "x": p.x, "y": p.y, "role": roles.get((p.layer, p.head), ("", ""))[0],
               "evidence": roles.get((p.layer, p.head), ("", ""))[1], "shown": i in labelled}
              for i, p in enumerate(found)]
    labels = "every head is labelled" if len(labelled) == len(found) else \
        f"the {len(labelled)} heads the map places worst are labelled"
    chart = headcharts.head_map(
        points, n_layers,
        f"Map of the {len(points)} heads: heads that attend alike are close (multidimensional scaling of the mean "
        f"Jensen-Shannon distance between their attention); {labels}. Colour: layer; shape: role. The table under "
        f"the chart lists every head's place, role and most similar head.")
    table = tuple(MapPoint(head_label(p.layer, p.head), f"heads/{head_label(p.layer, p.head)}.html",
                           round(p.x, 3) + 0.0, round(p.y, 3) + 0.0,  # + 0.0: 0.000, never -0.000
                           roles.get((p.layer, p.head), ("", ""))[0],
                           nearest.get((p.layer, p.head), ("", "", 0.0))[0]) for p in found)
    return HeadMap(chart, rho, stress, table)
