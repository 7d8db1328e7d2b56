"""The logit lens (nostalgebraist 2020, "interpreting GPT: the logit lens"): what each layer of a causal LM would
predict if the rest of the model were skipped, at every token of every probe.

As TransformerLens computes it (`ActivationCache.accumulated_resid(apply_ln=True)` then `unembed`): the residual
stream before each block and after the last one (`0_pre` .. `{L-1}_pre`, `final_post`: the embeddings and each
block's output), each put through the model's final norm with its statistics recomputed for that stream (GPT-2's
`ln_f`, Llama's RMS `norm`), then through the unembedding (the LM head, its bias where it has one), then softmax.
The last block's stream read this way is the model's own next-token distribution: transformers' last
`output_hidden_states` entry already has the final norm applied, so the stream is taken where the norm reads it (a
hook on its input), never normed twice. Where the configuration soft-caps the final logits (Gemma 2), the cap is
applied as the model applies it, so that the last layer stays the model's own distribution.

Per layer and position: the top `logit_lens` tokens with their probabilities; for every position but the last,
the probability and rank (1 + the tokens given a higher probability) of the probe's actual next token; and
KL(final || layer), the divergence of the model's own distribution from the layer's, in nats (the direction of
the tuned lens, Belrose et al. 2023). Layer -1 is the embeddings, layer l the output of block l.

Only a causal LM loaded with its LM head is read: reportgen loads encoders (BERT, MiniLM) without their MLM head
(models.task_class), so a masked LM gets no lens, and a sentence encoder or classifier has no vocabulary to read
out; the meta key `logit_lens` says which it was, and the sentence pages say it in one line.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import device_of
from ..options import option

COMPUTED = ("the residual stream after the embeddings and after each block, through the model's final norm ({norm}, "
            "its statistics recomputed for each layer) and its unembedding, as TransformerLens's "
            "accumulated_resid(apply_ln=True) and unembed compute it")
NO_HEAD = ("none: the model has no language-modelling head to read the residual stream out with (a sentence encoder "
           "or a classifier; reportgen loads a masked LM without its MLM head)")
NO_NORM = "none: the architecture keeps its final norm where reportgen does not look for it"
OFF = "none: not asked for (logit_lens = 0)"


@dataclass(frozen=True)
class LensOptions:
    logit_lens: int = option(5, "Causal LMs: the logit lens on every probe, with this many of each layer's most "
                                "probable tokens kept per position (default: 5; 0: no logit lens).", minimum=0)


def final_norm(loaded):
    """The final norm module of the model's base model, where its family (families.ADAPTERS) keeps it, and its
    attribute name; or (None, '')."""
    norm = loaded.adapter.final_norm(loaded.model)
    name = next((n for n, module in loaded.model.named_children() if module is norm), "")
    return (norm, name) if norm is not None else (None, "")


def streams(loaded, input_ids) -> list:
    """The residual stream of one sequence at each of the L + 1 places the lens reads, [T, d_model] each, in the
    model's precision: the embeddings, then each block's output (the last one as the final norm receives it)."""
    import torch

    norm, _ = final_norm(loaded)
    captured = []
    hook = norm.register_forward_pre_hook(lambda _m, args: captured.append(args[0].detach()))
    try:
        with torch.inference_mode():
            out = loaded.model(input_ids=torch.tensor([list(input_ids)], device=device_of(loaded)),
                               output_hidden_states=True)
    finally:
        hook.remove()
    # hidden_states: the embeddings, blocks 0..L-2's outputs, then the last block's output *after* the final norm
    return [h[0] for h in out.hidden_states[:-1]] + [captured[-1][0]]


def read_out(loaded, stream):
    """Log-probabilities [T, V] (float32) of one stream through the final norm and the unembedding."""
    import torch

    norm, _ = final_norm(loaded)
    with torch.inference_mode():
        logits = loaded.task.get_output_embeddings()(norm(stream)).float()
        cap = getattr(loaded.model.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        return torch.log_softmax(logits, dim=-1)


def lens_rows(loaded, sentence_id: int, input_ids, top: int) -> tuple[list[tuple], list[tuple]]:
    """The `logit_lens` and `logit_lens_top` rows of one probe (see the module's docstring)."""
    import torch

    found = streams(loaded, input_ids)
    final = read_out(loaded, found[-1])
    p_final = final.exp()
    ids = torch.tensor(list(input_ids), device=final.device)
    t = len(input_ids)
    pieces = loaded.tokenizer.convert_ids_to_tokens
    rows, tops = [], []
    for index, stream in enumerate(found):
        layer = index - 1
        logp = final if index == len(found) - 1 else read_out(loaded, stream)
        kl = (p_final * (final - logp)).sum(-1).clamp(min=0).cpu().numpy()
        nxt = ids[1:]
        chosen = logp[:-1].gather(1, nxt[:, None])[:, 0]
        rank = (logp[:-1] > chosen[:, None]).sum(-1) + 1
        chosen, rank = chosen.exp().cpu().numpy(), rank.cpu().numpy()
        values, which = torch.topk(logp, min(top, logp.shape[-1]), dim=-1)
        values, which = values.exp().cpu().numpy(), which.cpu().numpy()
        for pos in range(t):
            has_next = pos < t - 1
            rows.append((sentence_id, layer, pos, int(input_ids[pos + 1]) if has_next else None,
                         float(chosen[pos]) if has_next else None, int(rank[pos]) if has_next else None,
                         float(kl[pos])))
            names = pieces([int(i) for i in which[pos]])
            tops += [(sentence_id, layer, pos, k + 1, int(which[pos, k]), names[k], float(values[pos, k]))
                     for k in range(which.shape[1])]
    return rows, tops


class LogitLens:
    """The registry's per-probe analysis: the logit lens of every probe of a causal LM (see the module's
    docstring); any other model gets no rows and its reason in the meta key `logit_lens`."""

    stage = "logit lens"

    def __init__(self, loaded, probes, config):
        self.loaded, self.top = loaded, config.of(LensOptions).logit_lens
        norm, name = final_norm(loaded)
        if self.top == 0:
            self.status = OFF
        elif loaded.info.kind != "causal_lm" or loaded.task is None or loaded.task.get_output_embeddings() is None:
            self.status = NO_HEAD
        elif norm is None:
            self.status = NO_NORM
        else:
            self.status = COMPUTED.format(norm=f"`{name}`")
        self.active = self.status.startswith("the ")

    def meta(self) -> dict[str, str]:
        return {"logit_lens": self.status}

    def run(self, probes, progress, warned: list[str], corpus=(), store=None) -> dict[str, list[tuple]]:
        if not self.active:
            return {}
        rows, tops = [], []
        with progress.stage("logit lens", len(probes.sentences)) as advance:
            for sentence, tokenized in zip(probes.sentences, probes.tokenized):
                found, top = lens_rows(self.loaded, sentence.sentence_id, tokenized.input_ids, self.top)
                rows += found
                tops += top
                advance(1)
        return {"logit_lens": rows, "logit_lens_top": tops}

