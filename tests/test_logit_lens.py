"""The logit lens (analyses/logit_lens.py) against its definition: on a tiny GPT-2 and a tiny Llama with its LM head,
each layer's residual stream (taken here from hooks on the embeddings and the blocks, not from the model's
hidden states) put through the final norm written out by hand (LayerNorm, RMSNorm) and the unembedding matrix,
softmax, ranks, top tokens and KL(final || layer) all as plain loops in float64; the last layer equal to the
model's own next-token distribution; an encoder, and the option at 0, give no lens and say why."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import _byte_level_tokenizer

from reportgen.analyses.logit_lens import NO_HEAD, OFF, LogitLens, lens_rows
from reportgen.analyses.registry import load_config
from reportgen.models import wrap
from reportgen.progress import Progress

pytestmark = pytest.mark.unit

TOP = 4


def tiny_lm(kind: str):
    """A tiny causal LM whose final norm has gains and (GPT-2) biases far from 1 and 0, so that a stream normed
    twice, or not at all, reads out a visibly different distribution."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(2)
    tok = _byte_level_tokenizer()
    if kind == "gpt2":
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=16, n_layer=2, n_head=2, n_positions=64))
    else:  # grouped key/value heads, an unembedding of its own
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                                             max_position_embeddings=64, tie_word_embeddings=False))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln_" in name:
                p.copy_((1 + 2 * torch.randn_like(p)) if name.endswith("weight") else torch.randn_like(p))
        unembedding = model.get_output_embeddings().weight
        unembedding.mul_(40)  # peaked distributions: the top tokens and ranks mean something
    return wrap(model, tok, kind)


def _config(**options):
    return load_config(None, **options)


def hand_streams(loaded, ids: list[int]) -> list[np.ndarray]:
    """The residual stream [T, d] before the first block and after each block, from hooks on the embedding
    modules' and the blocks' outputs."""
    base = loaded.model
    found: list[np.ndarray] = []
    blocks = loaded.adapter.blocks(base)
    hooks = [b.register_forward_hook(lambda _m, _a, out: found.append(
        (out[0] if isinstance(out, tuple) else out)[0].double().numpy())) for b in blocks]
    with torch.no_grad():
        base(input_ids=torch.tensor([ids]))
    for h in hooks:
        h.remove()
    if loaded.info.architecture == "gpt2":
        emb = base.wte.weight[ids] + base.wpe.weight[: len(ids)]
    else:
        emb = base.embed_tokens.weight[ids]
    return [emb.detach().double().numpy()] + found


def hand_norm(loaded, x: np.ndarray) -> np.ndarray:
    """The final norm, written out: GPT-2's LayerNorm (x - mean) / sqrt(var + eps) * g + b, Llama's RMSNorm
    x / sqrt(mean(x^2) + eps) * g."""
    out = np.zeros_like(x)
    if loaded.info.architecture == "gpt2":
        ln = loaded.model.ln_f
        g, b, eps = ln.weight.detach().double().numpy(), ln.bias.detach().double().numpy(), ln.eps
        for t in range(x.shape[0]):
            mean = sum(x[t]) / len(x[t])
            var = sum((v - mean) ** 2 for v in x[t]) / len(x[t])
            out[t] = (x[t] - mean) / math.sqrt(var + eps) * g + b
    else:
        norm = loaded.model.norm
        g, eps = norm.weight.detach().double().numpy(), norm.variance_epsilon
        for t in range(x.shape[0]):
            out[t] = x[t] / math.sqrt(sum(v * v for v in x[t]) / len(x[t]) + eps) * g
    return out


def hand_lens(loaded, ids: list[int], top: int) -> tuple[list[tuple], list[tuple]]:
    """Every row of the lens from its definition, as plain loops."""
    w_u = loaded.task.get_output_embeddings().weight.detach().double().numpy()  # [V, d]
    probs = []
    for stream in hand_streams(loaded, ids):
        normed = hand_norm(loaded, stream)
        layer = []
        for t in range(len(ids)):
            logits = [float(np.dot(w_u[v], normed[t])) for v in range(w_u.shape[0])]
            m = max(logits)
            z = sum(math.exp(v - m) for v in logits)
            layer.append([math.exp(v - m) / z for v in logits])
        probs.append(layer)
    rows, tops = [], []
    final = probs[-1]
    for index, layer in enumerate(probs):
        for t, p in enumerate(layer):
            kl = sum(final[t][v] * (math.log(final[t][v]) - math.log(p[v])) for v in range(len(p)))
            if t + 1 < len(ids):
                nxt = ids[t + 1]
                rank = 1 + sum(1 for v in range(len(p)) if p[v] > p[nxt])
                rows.append((index - 1, t, nxt, p[nxt], rank, kl))
            else:
                rows.append((index - 1, t, None, None, None, kl))
            order = sorted(range(len(p)), key=lambda v: -p[v])[:top]
            tops += [(index - 1, t, k + 1, v, p[v]) for k, v in enumerate(order)]
    return rows, tops


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def lm(request):
    return tiny_lm(request.param)


IDS = [5, 17, 42, 9, 17, 42, 100, 3]


def test_every_layer_is_the_definition_computed_by_hand(lm):
    rows, tops = lens_rows(lm, 7, IDS, TOP)
    want_rows, want_tops = hand_lens(lm, IDS, TOP)
    assert len(rows) == (lm.info.n_layers + 1) * len(IDS) == len(want_rows)
    assert {r[1] for r in rows} == set(range(-1, lm.info.n_layers))
    for got, want in zip(sorted(rows, key=lambda r: (r[1], r[2])), want_rows):
        assert got[0] == 7 and got[1:4] == want[:3]
        if want[2] is None:
            assert got[4] is None and got[5] is None
        else:
            assert got[4] == pytest.approx(want[3], rel=1e-4, abs=1e-7)
            assert got[5] == want[4]
        assert got[6] == pytest.approx(want[5], rel=1e-3, abs=1e-5)
    assert [(t[1], t[2], t[3], t[4]) for t in tops] == [w[:4] for w in want_tops]
    for got, want in zip(tops, want_tops):
        assert got[6] == pytest.approx(want[4], rel=1e-4, abs=1e-7)
        assert got[5] == lm.tokenizer.convert_ids_to_tokens(want[3])
    # the lens reads something: the layers disagree with the final one, whose own KL is 0
    assert max(r[6] for r in rows if r[1] == -1) > 1e-3
    assert all(r[6] == 0 for r in rows if r[1] == lm.info.n_layers - 1)


def test_the_last_layer_is_the_models_own_next_token_distribution(lm):
    rows, tops = lens_rows(lm, 0, IDS, TOP)
    last = lm.info.n_layers - 1
    with torch.no_grad():
        own = torch.softmax(lm.task(input_ids=torch.tensor([IDS])).logits[0].double(), -1).numpy()
    for _, layer, pos, nxt, prob, rank, _ in rows:
        if layer == last and nxt is not None:
            assert prob == pytest.approx(own[pos, nxt], rel=1e-5, abs=1e-8)
            assert rank == 1 + int((own[pos] > own[pos, nxt]).sum())
    for _, layer, pos, k, token_id, _, prob in tops:
        if layer == last:
            assert token_id == int(np.argsort(-own[pos], kind="stable")[k - 1])
            assert prob == pytest.approx(own[pos, token_id], rel=1e-5, abs=1e-8)
    # the model's last hidden state, normed once more, reads out another distribution: the check above can fail
    norm = lm.model.ln_f if lm.info.architecture == "gpt2" else lm.model.norm
    with torch.no_grad():
        hidden = lm.model(input_ids=torch.tensor([IDS]), output_hidden_states=True).hidden_states[-1]
        twice = torch.softmax(lm.task.get_output_embeddings()(norm(hidden))[0].double(), -1).numpy()
    assert np.abs(twice - own).max() > 1e-2


def test_the_analysis_writes_every_probe_and_says_what_it_read(lm):
    from reportgen.analyses.base import Probes
    from reportgen.encode import Tokenized

    probes = [type("S", (), {"sentence_id": i})() for i in (0, 1)]
    tokenized = [Tokenized(tuple(IDS[:5]), (), False), Tokenized(tuple(IDS), (), False)]
    lens = LogitLens(lm, probes, _config(logit_lens=2))
    found = lens.run(Probes(probes, tokenized, {}, {}), Progress(), [])
    assert len(found["logit_lens"]) == (lm.info.n_layers + 1) * (5 + len(IDS))
    assert len(found["logit_lens_top"]) == 2 * len(found["logit_lens"])
    assert lens.meta()["logit_lens"].startswith("the residual stream after the embeddings")
    assert found["logit_lens"][:len(IDS[:5]) * (lm.info.n_layers + 1)] == lens_rows(lm, 0, IDS[:5], 2)[0]


def test_no_lens_where_there_is_no_lm_head_or_the_option_is_0():
    from transformers import AutoTokenizer, BertConfig, BertModel, GPT2Config, GPT2Model

    from reportgen.models import default_model_path

    tok = AutoTokenizer.from_pretrained(default_model_path())
    bert = wrap(BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32)), tok, "bert")
    gpt2 = wrap(GPT2Model(GPT2Config(vocab_size=400, n_embd=16, n_layer=1, n_head=2)), _byte_level_tokenizer(),
                "gpt2")
    for loaded in (bert, gpt2):  # an encoder; a GPT-2 without its LM head
        lens = LogitLens(loaded, [], _config())
        assert lens.run(None, Progress(), []) == {} and lens.meta() == {"logit_lens": NO_HEAD}
    lens = LogitLens(tiny_lm("gpt2"), [], _config(logit_lens=0))
    assert lens.run(None, Progress(), []) == {} and lens.meta() == {"logit_lens": OFF}


def test_in_bfloat16_the_last_layer_is_still_the_models_own_distribution():
    lm = tiny_lm("llama")
    lm.task.to(dtype=torch.bfloat16)
    rows, _ = lens_rows(lm, 0, IDS, 3)
    with torch.no_grad():
        own = torch.softmax(lm.task(input_ids=torch.tensor([IDS])).logits[0].float(), -1).numpy()
    last = [r for r in rows if r[1] == lm.info.n_layers - 1 and r[3] is not None]
    assert len(last) == len(IDS) - 1
    for _, _, pos, nxt, prob, _, _ in last:
        assert prob == pytest.approx(float(own[pos, nxt]), rel=1e-5, abs=1e-12)
