"""The head detectors of causal LMs (analyses/detectors.py): each score against TransformerLens's definitions on
hand-made attention patterns and against plain loops over a tiny GPT-2 and a tiny Llama with grouped key/value
heads; the OV circuit's copying score against the full V x V matrix built from the model's own modules; the
in-context loss with heads removed against a hook written here; the roles' rules on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import _byte_level_tokenizer

from reportgen.analyses.detector_passes import (
    in_context_losses,
    random_draws,
    repeated_sequences,
)
from reportgen.analyses.detector_scores import (
    THRESHOLDS,
    copying_score,
    natural_scores,
    repeated_scores,
    role_rows,
    summarise,
)
from reportgen.analyses.detector_weights import circuits
from reportgen.analyses.detectors import HeadDetectors
from reportgen.analyses.registry import load_config
from reportgen.errors import ConfigError
from reportgen.models import wrap
from reportgen.progress import Progress

pytestmark = pytest.mark.unit


# TransformerLens's definitions (transformer_lens/head_detector.py), as its code computes them
def tl_previous(n: int) -> np.ndarray:
    pattern = np.zeros((n, n))
    pattern[1:, :-1] = np.eye(n - 1)
    return np.tril(pattern)


def tl_duplicate(tokens: list[int]) -> np.ndarray:
    t = np.array(tokens)
    eq = (t[None, :] == t[:, None]).astype(float)
    np.fill_diagonal(eq, 0)
    return np.tril(eq)


def tl_induction(tokens: list[int]) -> np.ndarray:
    duplicate = tl_duplicate(tokens)
    shifted = np.roll(duplicate, 1, axis=1)
    return np.tril(np.concatenate([np.zeros((len(tokens), 1)), shifted[:, 1:]], axis=1))


def tl_mul(attention: np.ndarray, detection: np.ndarray) -> float:
    """compute_head_attention_similarity_score with error_measure='mul', exclude_bos and exclude_current_token
    False."""
    return float((attention * detection).sum() / attention.sum())


def causal_random(t: int, rng) -> np.ndarray:
    a = np.tril(rng.random((t, t)) ** 4)
    return a / a.sum(-1, keepdims=True)


@pytest.mark.parametrize("offset", [0, 1])
def test_repeated_scores_are_transformerlens_patterns_on_the_second_copy(offset):
    rng = np.random.default_rng(3)
    n = 7
    x = list(rng.choice(np.arange(10, 100), n, replace=False))
    tokens = [1] * offset + x + x
    t = len(tokens)
    second = list(range(offset + n, t))
    perfect = np.zeros((t, t))
    for i in range(t):
        perfect[i, i - n + 1 if i in second else 0] = 1
    assert repeated_scores(perfect[None, None], offset, n)["induction"][0, 0] == pytest.approx(1.0)
    assert repeated_scores(perfect[None, None], offset, n)["duplicate_token"][0, 0] == pytest.approx(0.0)
    a = causal_random(t, rng)
    mine = repeated_scores(a[None, None], offset, n)
    # on the second copy's rows, the fixed offsets are TransformerLens's token patterns (the tokens are distinct)
    assert mine["induction"][0, 0] == pytest.approx(tl_mul(a[second], tl_induction(tokens)[second]))
    assert mine["duplicate_token"][0, 0] == pytest.approx(tl_mul(a[second], tl_duplicate(tokens)[second]))
    # over every row, head_detector's 'mul' divides by all T rows: n / T of ours
    assert tl_mul(a, tl_induction(tokens)) == pytest.approx(mine["induction"][0, 0] * n / t)
    assert tl_mul(a, tl_previous(t)) == pytest.approx(mine["previous_token"][0, 0] * (t - 1) / t)
    # the plain loop, from the definition
    assert mine["induction"][0, 0] == pytest.approx(np.mean([a[i, i - n + 1] for i in second]))
    assert mine["previous_token"][0, 0] == pytest.approx(np.mean([a[i, i - 1] for i in range(1, t)]))


def test_natural_scores_are_transformerlens_patterns_on_the_rows_that_repeat():
    rng = np.random.default_rng(5)
    tokens = [0, 5, 6, 5, 7, 6, 5, 8, 0]  # 0 special; 5 three times, 6 twice
    t = len(tokens)
    a = causal_random(t, rng)
    found = natural_scores(a[None, None], tokens, {0})
    rows = [3, 5, 6]  # the queries whose token occurs earlier (the special token's repeat is none)
    duplicate, induction = tl_duplicate(tokens), tl_induction(tokens)
    assert found["duplicate_token"][0, 0] == pytest.approx(tl_mul(a[rows], duplicate[rows]))
    assert found["induction"][0, 0] == pytest.approx(tl_mul(a[rows], induction[rows]))
    assert found["induction"][0, 0] == pytest.approx(np.mean([a[3, 2], a[5, 3], a[6, 2] + a[6, 4]]))
    assert natural_scores(a[None, None], [0, 4, 5, 6], {0}) is None


def tiny_lm(kind: str):
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    tok = _byte_level_tokenizer()
    if kind == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=2, n_head=2, n_positions=64))
    else:  # 4 query heads sharing 2 key/value heads, untied unembedding, non-trivial norm gains
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                             max_position_embeddings=64, tie_word_embeddings=False))
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "norm" in name:
                    p.copy_(1 + 0.3 * torch.randn_like(p))
    return wrap(model, tok, kind)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def measured(request):
    loaded = tiny_lm(request.param)
    config = load_config(None, detector_sequences=6, detector_min_tokens=4, detector_max_tokens=9,
                         detector_ablation_sequences=3)
    detectors = HeadDetectors(loaded, None, config)
    return loaded, detectors, detectors.run(None, Progress(), [], [])


def test_the_repeated_scores_equal_a_plain_loop_over_each_sequence_alone(measured):
    loaded, detectors, tables = measured
    o = detectors.options
    from reportgen.analyses.detector_passes import ordinary_tokens

    pool = ordinary_tokens(loaded.tokenizer, loaded.model.config.vocab_size, o.detector_max_tokens)
    sequences = repeated_sequences(pool, o.detector_sequences, o.detector_min_tokens, o.detector_max_tokens,
                                   o.detector_seed, None)
    assert len({len(s[0]) for s in sequences}) > 1  # lengths differ: the batches are padded
    info = loaded.info
    sums = {d: np.zeros((info.n_layers, info.n_heads)) for d in ("induction", "previous_token", "duplicate_token")}
    for ids, offset, n in sequences:
        assert len(set(ids[offset:offset + n])) == n and ids[offset:offset + n] == ids[offset + n:]
        with torch.no_grad():
            att = loaded.model(input_ids=torch.tensor([ids]), output_attentions=True).attentions
        for layer in range(info.n_layers):
            for head in range(info.n_heads):
                a = att[layer][0, head].double().numpy()
                sums["induction"][layer, head] += np.mean([a[i, i - n + 1] for i in range(offset + n, len(ids))])
                sums["duplicate_token"][layer, head] += np.mean([a[i, i - n] for i in range(offset + n, len(ids))])
                sums["previous_token"][layer, head] += np.mean([a[i, i - 1] for i in range(1, len(ids))])
    rows = [r for r in tables["head_detectors"] if r[3] == "repeated"]
    assert len(rows) == 3 * info.n_layers * info.n_heads
    for layer, head, detector, _, value, low, high, se, units in rows:
        assert value == pytest.approx(sums[detector][layer, head] / len(sequences), abs=1e-6)
        assert low <= value <= high and units == len(sequences)


def test_the_copying_score_is_the_eigenvalue_fraction_of_the_whole_ov_circuit(measured):
    """The V x V circuit built by calling the model's own modules on every token's embedding."""
    loaded, _, tables = measured
    base, info = loaded.model, loaded.info
    stored = {(r[0], r[1]): r[4] for r in tables["head_detectors"] if r[2] == "copying" and r[3] == "weights"}
    embed = base.get_input_embeddings().weight.detach().double()
    unembed = loaded.task.get_output_embeddings().weight.detach().double()
    d = info.d_head
    with torch.no_grad():
        for layer in range(info.n_layers):
            for head in range(info.n_heads):
                if info.architecture == "gpt2":
                    block = base.h[layer].double()
                    v = block.attn.c_attn(embed * block.ln_1.weight) - block.attn.c_attn(torch.zeros_like(embed))
                    value = v[:, 2 * info.d_model + head * d:2 * info.d_model + (head + 1) * d]
                    proj = block.attn.c_proj
                    final = base.ln_f.weight.double()
                else:
                    from transformers.models.llama.modeling_llama import repeat_kv

                    block = base.layers[layer].double()
                    v = block.self_attn.v_proj(embed * block.input_layernorm.weight)  # [V, n_kv * d]
                    group = info.n_heads // loaded.model.config.num_key_value_heads
                    v = repeat_kv(v.reshape(1, len(embed), -1, d).transpose(1, 2), group)
                    value = v[0, head]
                    proj = block.self_attn.o_proj
                    final = base.norm.weight.double()
                full = torch.zeros(len(embed), info.n_heads * d, dtype=torch.float64)
                full[:, head * d:(head + 1) * d] = value
                out = proj(full) - proj(torch.zeros_like(full))  # [V, D], the bias left out
                circuit = (out * final) @ unembed.T  # [V, V]
                eig = np.linalg.eigvals(circuit.numpy())
                assert stored[(layer, head)] == pytest.approx(eig.sum().real / np.abs(eig).sum(), abs=1e-6)
    base.float()


def test_the_factored_circuit_has_the_full_circuits_eigenvalues():
    rng = np.random.default_rng(0)
    w_e, w_v, w_o, w_u = (rng.standard_normal(s) for s in ((50, 8), (8, 3), (3, 8), (8, 50)))
    full = np.linalg.eigvals(w_e @ w_v @ w_o @ w_u)
    assert copying_score(w_o @ w_u @ w_e @ w_v) == pytest.approx(full.sum().real / np.abs(full).sum(), abs=1e-9)
    assert copying_score(np.eye(3)) == 1.0 and copying_score(-np.eye(3)) == -1.0


def test_the_in_context_loss_with_heads_removed_equals_a_hook_written_here(measured):
    loaded = measured[0]
    info = loaded.info
    pool = np.arange(10, 200)
    sequences = repeated_sequences(pool, 3, 4, 8, 7, None)
    removed = [[], [(0, 1)], [(0, 0), (1, 1)], [(1, 0)]]
    masks = np.ones((len(removed), info.n_layers, info.n_heads), dtype=np.float32)
    for k, heads in enumerate(removed):
        for layer, head in heads:
            masks[k, layer, head] = 0
    found = in_context_losses(loaded, sequences, masks)
    blocks = loaded.adapter.blocks(loaded.model)
    for k, heads in enumerate(removed):
        def zero(layer, heads=heads):
            def hook(_module, args):
                x = args[0].clone()
                for l, h in heads:
                    if l == layer:
                        x[..., h * info.d_head:(h + 1) * info.d_head] = 0
                return (x,)
            return hook
        hooks = [loaded.adapter.out_proj(b).register_forward_pre_hook(zero(layer)) for layer, b in enumerate(blocks)]
        try:
            for s, (ids, offset, n) in enumerate(sequences):
                with torch.no_grad():
                    logp = torch.log_softmax(loaded.task(input_ids=torch.tensor([ids])).logits[0].double(), -1)
                losses = [-float(logp[i - 1, ids[i]]) for i in range(offset + n + 1, offset + 2 * n)]
                assert found[k, s] == pytest.approx(np.mean(losses), abs=1e-5)
        finally:
            for h in hooks:
                h.remove()


def test_random_heads_come_from_the_candidates_layers_and_are_no_candidates():
    candidates = [(1, 0), (1, 2), (3, 1)]
    draws = random_draws(candidates, 4, 20, 0)
    for heads in draws:
        assert sorted(layer for layer, _ in heads) == [1, 1, 3]
        assert not set(heads) & set(candidates) and len(set(heads)) == 3
    assert draws == random_draws(candidates, 4, 20, 0) and len({tuple(d) for d in draws}) > 1


def test_roles_follow_the_threshold_the_control_and_the_resamples():
    rng = np.random.default_rng(0)
    s = 40
    model = np.full((s, 1, 3), 0.05) + rng.normal(0, 0.01, (s, 1, 3))
    model[:, 0, 0] = 0.9 + rng.normal(0, 0.02, s)  # induction, far above the control
    model[:, 0, 1] = 0.41 + rng.normal(0, 0.05, s)  # at the threshold: unstable
    control = model.copy()
    control[:, 0, 0] = 0.05
    control[:, 0, 1] = 0.40 + rng.normal(0, 0.05, s)  # as high in the random model: not claimed
    summaries = {"induction": summarise(model, 0)}
    rows = role_rows(summaries, {"induction": summarise(control, 0)}, np.array([[0.9, 0.2, -0.5]]),
                     np.array([[0.1, 0.3, 0.95]]))
    by = {(r[1], r[2]): r for r in rows}
    assert set(by) == {(0, "induction"), (1, "induction"), (0, "copying")}
    first, second = by[(0, "induction")], by[(1, "induction")]
    mean = model.mean(0)[0]
    assert first[3] == pytest.approx(mean[0]) and first[4] == THRESHOLDS["induction"] and first[7] is True
    assert second[7] is False and 0 < second[5] < 1
    drawn = summaries["induction"][4][:, 0, 1]
    assert second[5] == pytest.approx(np.mean(drawn >= THRESHOLDS["induction"]))
    # copying: claimed only above every head of the random model (0.95 here)
    assert by[(0, "copying")][7] is False and by[(0, "copying")][6] == pytest.approx(0.1)


def test_an_encoder_gets_no_rows_and_a_bad_range_is_one_error(bert_dir):
    from reportgen.models import load_model

    loaded = load_model(str(bert_dir))
    assert HeadDetectors(loaded, None, load_config(None)).run(None, Progress(), [], []) == {}
    with pytest.raises(ConfigError, match="detector_min_tokens"):
        HeadDetectors(loaded, None, load_config(None, detector_min_tokens=9, detector_max_tokens=4))


def test_circuits_are_none_for_an_unknown_layout():
    assert circuits(torch.nn.Linear(2, 2), torch.zeros(3, 2), 1, 2) is None
