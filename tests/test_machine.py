"""The cores a build may use: its affinity, not every core of the machine (machine.usable_cores), and what is sized
by them (the annotation beside the model, the render pool)."""

from __future__ import annotations

import os

import pytest

from reportgen import machine

pytestmark = pytest.mark.unit


def test_usable_cores_are_the_affinity_where_there_is_one(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    assert machine.usable_cores() == 2

    def refused(pid):
        raise OSError("not here")

    monkeypatch.setattr(os, "sched_getaffinity", refused)
    assert machine.usable_cores() == 64
    monkeypatch.delattr(os, "sched_getaffinity")
    assert machine.usable_cores() == 64
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert machine.usable_cores() == 1


@pytest.mark.parametrize(("cores", "beside"), [(1, 0), (2, 1)])
def test_the_annotation_runs_beside_the_model_only_with_a_second_usable_core(monkeypatch, cores, beside):
    import reportgen.corpus_pass as corpus_pass
    from reportgen.corpus import Sentence
    from reportgen.corpus_pass.spec import Tuning

    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    tuning = Tuning()
    corpus = [Sentence(i, "corpus", f"c.txt:{i + 1}", "A sentence.") for i in range(tuning.annotate_beside)]
    assert corpus_pass.CorpusPass(corpus, None, 32, None, tuning).annotators == beside


def test_the_render_pool_has_a_process_per_usable_core(monkeypatch, tmp_path):
    """With one usable core the pages are written in the build's own process; with three, by three processes."""
    import reportgen.site.render as render_module

    started = []

    class Pool:
        def __init__(self, workers, mp_context=None):
            started.append(workers)
            raise RuntimeError("stop here")

    class Renderer:
        figures, report = None, None

        def __init__(self, *args):
            pass

        def tasks(self):
            return [("head", i) for i in range(render_module.POOL_PAGES)]

        def __call__(self, task):
            return f"{task[1]}.html", 1, []

    monkeypatch.setattr(render_module, "Renderer", Renderer)
    for name in ("write_assets", "write_contexts", "contexts"):
        monkeypatch.setattr(render_module, name, lambda *args: [])
    monkeypatch.setattr("concurrent.futures.ProcessPoolExecutor", Pool)
    from reportgen.progress import Progress

    for cores, pooled in ((3, [3]), (1, [])):
        started.clear()
        monkeypatch.setattr(render_module, "usable_cores", lambda: cores)
        if pooled:
            with pytest.raises(RuntimeError, match="stop here"):
                render_module.render(None, tmp_path, Progress(), ())
        else:  # every page written in this process
            assert len(render_module.render(None, tmp_path, Progress(), ())) == render_module.POOL_PAGES
        assert started == pooled
