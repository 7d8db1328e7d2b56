"""The steps of the head detectors' run (analyses/detectors.py): the random sequences, the forward passes, the
in-context loss with heads removed, the random heads and the control's unembedding."""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..models import device_of
from ..vocab import head_label
from .ablation import from_layer, head_mask
from .importance_stats import interval, resamples

BATCH = 16  # sequences per forward pass


def ordinary_tokens(tokenizer, vocab_size: int, needed: int) -> np.ndarray:
    """The token ids the random sequences are drawn from: neither special nor added tokens, and spelling an ASCII
    word piece (letters, after the tokenizer's space mark); all non-special ids where fewer than `needed` do."""
    special = set(tokenizer.all_special_ids) | set(tokenizer.get_added_vocab().values())
    size = min(len(tokenizer), vocab_size)
    pieces = tokenizer.convert_ids_to_tokens(list(range(size)))
    plain = [i for i, p in enumerate(pieces) if i not in special]
    words = [i for i in plain if (w := (pieces[i] or "").lstrip("Ġ▁")) and w.isascii() and w.isalpha()]
    return np.array(words if len(words) >= needed else plain, dtype=np.int64)


def leading_bos(tokenizer) -> int | None:
    """The BOS id where the tokenizer puts one before a text, else None."""
    ids = tokenizer("a")["input_ids"]
    bos = tokenizer.bos_token_id
    return bos if bos is not None and ids and ids[0] == bos else None


def repeated_sequences(pool: np.ndarray, count: int, low: int, high: int, seed: int,
                       bos: int | None) -> list[tuple[list[int], int, int]]:
    """`count` seeded sequences (ids, offset, N): N distinct tokens of `pool`, N uniform in [low, high], repeated
    once, after `bos` where given (offset 1, else 0)."""
    rng = np.random.default_rng([seed, 0])
    out = []
    for _ in range(count):
        n = int(rng.integers(low, high + 1))
        x = [int(t) for t in rng.choice(pool, n, replace=False)]
        head = [bos] if bos is not None else []
        out.append((head + x + x, len(head), n))
    return out


def _batches(sequences: list[list[int]]):
    """Indices of the sequences in batches of BATCH, by length (little padding)."""
    order = sorted(range(len(sequences)), key=lambda i: (len(sequences[i]), i))
    return [order[i:i + BATCH] for i in range(0, len(order), BATCH)]


def forward(model, device, sequences: list[list[int]], pad: int, each, attentions: bool = True,
            advance=lambda n: None) -> None:
    """Run `model` (a transformers model, eager attention) over the sequences, right-padded in batches, and call
    `each(index, attention [L, H, T, T] float64 numpy or None, output, row)` for every sequence (T its own length;
    padding changes no real token's attention or logits in a causal model)."""
    import torch

    for part in _batches(sequences):
        ids, mask = _padded([sequences[i] for i in part], pad, device)
        with torch.inference_mode():
            out = model(input_ids=ids, attention_mask=mask, output_attentions=attentions)
        attention = torch.stack(out.attentions, 1) if attentions else None  # [B, L, H, T, T]
        for row, i in enumerate(part):
            t = len(sequences[i])
            each(i, None if attention is None else attention[row, :, :, :t, :t].double().cpu().numpy(), out, row)
        advance(len(part))


def _padded(sequences: list[list[int]], pad: int, device):
    """Right-padded input ids and attention mask [B, T] on the device."""
    import torch

    length = max(len(x) for x in sequences)
    ids = torch.full((len(sequences), length), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, x in enumerate(sequences):
        ids[row, :len(x)] = torch.tensor(x)
        mask[row, :len(x)] = 1
    return ids.to(device), mask.to(device)


def second_copy_loss(logits, ids: list[int], offset: int, n: int) -> float:
    """The mean next-token loss over the second copy's tokens but its first, from one sequence's logits [T, V]."""
    import torch

    targets = torch.tensor(ids[offset + n + 1:offset + 2 * n], device=logits.device)
    return float(torch.nn.functional.cross_entropy(logits[offset + n:offset + 2 * n - 1].double(), targets))


def in_context_losses(loaded, sequences: list[tuple[list[int], int, int]], masks: np.ndarray,
                      advance=lambda n: None) -> np.ndarray:
    """[K, S] the in-context loss of each sequence under each mask [K, L, H] (1 keeps a head, 0 removes it). Per
    batch of sequences, one intact pass keeps every block's output; each mask's pass then starts at the first layer
    it changes (ablation.from_layer: the blocks below give their intact outputs)."""
    import torch

    device = device_of(loaded)
    pad = loaded.tokenizer.pad_token_id or 0
    blocks = loaded.adapter.blocks(loaded.model)
    removed = (masks < 1).any(-1)  # [K, L]
    first = np.where(removed.any(-1), removed.argmax(-1), len(blocks))
    out = np.zeros((len(masks), len(sequences)))
    for part in _batches([s[0] for s in sequences]):
        ids, mask = _padded([sequences[i][0] for i in part], pad, device)
        cached: list = [None] * len(blocks)
        keep = [block.register_forward_hook(
                    lambda _m, _a, result, layer=layer, to=cached: to.__setitem__(layer, result))
                for layer, block in enumerate(blocks)]
        try:
            with torch.inference_mode():
                intact = loaded.task(input_ids=ids, attention_mask=mask).logits
        finally:
            for hook in keep:
                hook.remove()
        for k, m in enumerate(masks):
            if first[k] == len(blocks):
                logits = intact
            else:
                with torch.inference_mode(), head_mask(loaded, torch.tensor(m[None], device=device)), \
                        from_layer(loaded, cached, int(first[k]), len(part)):
                    logits = loaded.task(input_ids=ids, attention_mask=mask).logits
            for row, i in enumerate(part):
                out[k, i] = second_copy_loss(logits[row], *sequences[i])
        advance(len(part))
    return out


def random_draws(candidates: list[tuple[int, int]], n_heads: int, draws: int, seed: int) -> list[list[tuple]]:
    """`draws` seeded sets of heads, as many from each candidate's layer as it has candidates, none a candidate."""
    rng = np.random.default_rng([seed, 1])
    per_layer = Counter(layer for layer, _ in candidates)
    out = []
    for _ in range(draws):
        heads = []
        for layer in sorted(per_layer):
            others = [h for h in range(n_heads) if (layer, h) not in candidates]
            take = min(per_layer[layer], len(others))
            heads += [(layer, int(h)) for h in sorted(rng.choice(others, take, replace=False))] if take else []
        out.append(heads)
    return out


def ablation_rows(losses: np.ndarray, sets: list[tuple[str, int | None, list[tuple[int, int]]]],
                  seed: int) -> list[tuple]:
    """detector_ablation rows from the losses [K, S] of the masks `sets` (removed, draw, heads), the first intact."""
    idx = resamples(losses.shape[1], seed)
    rows, draws = [], []
    for k, (removed, draw, heads) in enumerate(sets):
        increase = losses[k] - losses[0]
        low, high = interval(losses[k][idx].mean(1))
        inc_low, inc_high = interval(increase[idx].mean(1))
        rows.append((removed, draw, " ".join(head_label(*h) for h in heads), len(heads), float(losses[k].mean()),
                     float(low), float(high), float(increase.mean()), float(inc_low), float(inc_high),
                     losses.shape[1]))
        if removed == "random_draw":
            draws.append((float(losses[k].mean()), float(increase.mean()), len(heads)))
    if draws:
        loss, increase = np.array([d[0] for d in draws]), np.array([d[1] for d in draws])
        rows.append(("random", None, "", draws[0][2], float(loss.mean()), *(float(v) for v in interval(loss)),
                     float(increase.mean()), *(float(v) for v in interval(increase)), losses.shape[1]))
    return rows


def random_unembedding(loaded, random, seed: int):
    """The control's unembedding [V, D]: its embedding where the model ties them, else a seeded N(0, range)."""
    import torch

    config = loaded.model.config
    embed = random.model.get_input_embeddings().weight
    if getattr(config, "tie_word_embeddings", True):
        return embed
    generator = torch.Generator().manual_seed(seed)
    std = float(getattr(config, "initializer_range", 0.02))
    return torch.randn(embed.shape, generator=generator, dtype=torch.float64) * std
