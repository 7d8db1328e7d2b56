"""The probe pass, before the corpus: the probes encoded whole (their attention, query and key vectors and tokens
go into the database), and the vectors of their searchable tokens kept for the search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .annotate import words_by_sentence
from .corpus import Sentence
from .encode import Tokenized, encode, queries_keys, tokenize


@dataclass
class EncodedProbes:
    """tokenized: each probe's tokens; embedding [L, P, d_model] and context [L, P, H, d_head] of the P searchable
    probe tokens (not special), keys their (sentence_id, token_idx); attention: [L, H, T, T] by sentence id."""

    tokenized: list[Tokenized]
    embedding: np.ndarray
    context: np.ndarray
    keys: tuple[tuple[int, int], ...]
    attention: dict[int, np.ndarray]
    n_words: dict[int, int]  # by sentence id


def neuron_columns(sentence_id: int, queries: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
    """The neuron table's rows of one probe: every query and key vector [L, H, T, d], one row per element."""
    both = np.stack([queries, keys])  # [2, L, H, T, d]
    vector, layer, head, token, dim = np.indices(both.shape).reshape(5, -1)
    return {"sentence_id": np.full(layer.shape, sentence_id), "layer": layer, "head": head, "token_idx": token,
            "vector": np.array(["query", "key"])[vector], "dim": dim,
            "value": both.reshape(-1).astype(np.float64)}


def encode_probes(store, loaded, probes: list[Sentence], batch_size: int) -> EncodedProbes:
    """Tokenise (strictly: a probe over the model's limit is an error) and encode the probes, whose words are in
    the store; write their `sentences`, `tokens`, `attention` and `neuron` rows."""
    words = words_by_sentence(store.words_of(0, len(probes) - 1))
    probe_tok = [tokenize(loaded, s.text, words[s.sentence_id], strict=True, where=f"probe {s.source}",
                          sentence_id=s.sentence_id) for s in probes]
    emb, ctx, attention_rows, token_rows, probe_attention = [], [], [], [], {}
    for chunk_start in range(0, len(probes), batch_size):
        batch = probe_tok[chunk_start : chunk_start + batch_size]
        enc = encode(loaded, batch)
        for row, tok in enumerate(batch):
            sid = probes[chunk_start + row].sentence_id
            n = len(tok.tokens)
            token_rows += tok.tokens
            keep = [t.token_idx for t in tok.tokens if not t.is_special]
            emb.append(enc.hidden[:, row, keep])
            ctx.append(enc.context[:, row, keep])
            att = enc.attention[:, row, :, :n, :n]  # [L, H, n, n]
            probe_attention[sid] = att
            layer, head, i, j = np.indices(att.shape).reshape(4, -1)
            attention_rows.append({"sentence_id": np.full(layer.shape, sid), "layer": layer, "head": head,
                                   "from_token_idx": i, "to_token_idx": j,
                                   "weight": att.reshape(-1).astype(np.float64)})
    store.insert("sentences", [(s.sentence_id, s.role, s.source, s.text, False) for s in probes])
    store.insert("tokens", token_rows)
    for cols in attention_rows:
        store.insert("attention", cols)
    for s, tok in zip(probes, probe_tok):
        store.insert("neuron", neuron_columns(s.sentence_id, *queries_keys(loaded, tok)))
    keys = tuple((s.sentence_id, t.token_idx) for s, tok in zip(probes, probe_tok) for t in tok.tokens
                 if not t.is_special)
    return EncodedProbes(probe_tok, np.concatenate(emb, axis=1), np.concatenate(ctx, axis=1), keys, probe_attention,
                         {s.sentence_id: len(words[s.sentence_id]) for s in probes})
