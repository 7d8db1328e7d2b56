"""--max-batch-tokens: batches bounded by padded tokens as well as sentences, with the same report."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from conftest import SENTENCES, build_small_site

from reportgen.corpus_pass.batches import token_batches as _token_batches

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("batch_size,budget", [(32, None), (3, None), (32, 40), (2, 25), (32, 1)])
def test_token_batches_keep_the_order_and_respect_both_limits(batch_size, budget):
    rng = np.random.default_rng(3)
    lengths = rng.integers(3, 30, size=40).tolist()
    order = sorted(range(40), key=lambda i: lengths[i])
    batches = list(_token_batches(order, lengths, batch_size, budget))
    assert [i for b in batches for i in b] == order  # every sentence once, in order
    for b in batches:
        assert len(b) <= batch_size
        if budget is not None and len(b) > 1:
            assert len(b) * max(lengths[i] for i in b) <= budget
    # greedy: the next sentence would not have fitted
    for b, following in zip(batches, batches[1:]):
        nxt = following[0]
        grown = len(b) + 1
        assert grown > batch_size or (budget is not None and grown * max(lengths[i] for i in b + [nxt]) > budget)


def test_a_sentence_over_the_budget_is_a_batch_of_its_own():
    assert list(_token_batches([0, 1, 2], [5, 50, 60], 32, 40)) == [[0], [1], [2]]


TABLES = ("SELECT sentence_id, token_idx, space, layer, head, rank, match_sentence_id, match_token_idx, score "
          "FROM neighbours ORDER BY ALL",
          "SELECT layer, head, stat, value FROM head_stats ORDER BY ALL",
          "SELECT layer, head, relation, direction, support, accuracy FROM dep_accuracy ORDER BY ALL",
          "SELECT layer, head, scope, sentence_id, method, value FROM head_importance ORDER BY ALL")


@pytest.mark.build
def test_a_token_budget_gives_the_same_report(tmp_path_factory, bert_dir):
    # distinct sentences: identical ones tie exactly only when they are encoded with the same padding
    wiki = (Path(__file__).resolve().parent.parent / "corpora" / "wikipedia.txt").read_text(encoding="utf-8")
    sentences = SENTENCES + wiki.splitlines()[:16]
    sites = [build_small_site(tmp_path_factory.mktemp(f"budget{b}"), bert_dir, sentences=sentences, top_k=3,
                              max_batch_tokens=b) for b in (None, 30)]
    for sql in TABLES:
        one, two = (duckdb.connect(str(s / "report.duckdb"), read_only=True).execute(sql).fetchall() for s in sites)
        assert len(one) == len(two) > 0
        for a, b in zip(one, two):
            assert [x for x in a if not isinstance(x, float)] == [y for y in b if not isinstance(y, float)], sql
            np.testing.assert_allclose([x for x in a if isinstance(x, float)], [y for y in b if isinstance(y, float)],
                                       rtol=0, atol=1e-5, err_msg=sql)
