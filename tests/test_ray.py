"""`--ray`: the corpus pass in shards on a local Ray of 2 workers gives the same database and pages as the
single-process build, byte for byte, with its workers killed mid-build (they are restarted and their shards run
again); a shard that cannot be run stops the build with one line naming its sentences and the previous site
kept."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SENTENCES, assert_clean_failure, build_small_site, site_files, table_contents

from reportgen.cli import main
from reportgen.corpus_pass.ray import WORKER_NAME
from reportgen.corpus_pass.spec import Tuning
from reportgen.progress import Progress

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parent.parent
CORPUS = SENTENCES * 8  # 64 sentences: windows of 16 at batch size 1, one window a shard: 4 shards
TABLES = ("words", "tokens", "sentences", "neighbours", "cut_ties", "head_stats", "dep_accuracy", "head_distance",
          "head_map", "head_roles", "base_counts", "attention", "attributions", "head_importance")


@pytest.fixture(scope="module")
def ray_local():
    import ray

    # the workers import this checkout's reportgen, whatever is installed
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield ray
    ray.shutdown()


SMALL_SHARDS = Tuning(shard_windows=1)
# the attributions and the importance are computed in the driver, before the corpus pass, alike with or without Ray:
# the fewest steps and sentences
CHEAP = {"attribution_steps": 2, "importance_sentences": 1}


def _build(folder: Path, bert_dir, progress=None, **options) -> Path:
    options = CHEAP | options
    if progress is None:
        return build_small_site(folder, bert_dir, sentences=CORPUS, batch_size=1, tuning=SMALL_SHARDS, **options)
    from reportgen.commands.build import build
    from reportgen.analyses.registry import load_config

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.txt").write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    (folder / "probes.txt").write_text("The dog sat on the unbelievably comfortable table.\nShe gave him the keys.\n",
                                       encoding="utf-8")
    build(load_config(None, model=str(bert_dir), corpus=(folder / "corpus.txt",), probes=folder / "probes.txt",
                      out=folder / "site", batch_size=1, **options), progress, SMALL_SHARDS)
    return folder / "site"


@pytest.fixture(scope="module")
def single(tmp_path_factory, bert_dir):
    return _build(tmp_path_factory.mktemp("single"), bert_dir)


def _assert_same(site: Path, single: Path) -> None:
    got, want = table_contents(site / "report.duckdb", TABLES), table_contents(single / "report.duckdb", TABLES)
    for table in TABLES:
        assert got[table] == want[table], table
    files, expected = site_files(site), site_files(single)
    assert sorted(files) == sorted(expected)
    for name in expected:
        assert files[name] == expected[name], name




class KillWorkers(Progress):
    """Kills every worker once the first shard has come back (restartable or not)."""

    def __init__(self, ray, restart: bool):
        self.ray, self.restart, self.killed = ray, restart, False

    def stage(self, name, total):
        inner = super().stage(name, total)
        if name != "encode":
            return inner
        progress = self

        class Stage:
            def __enter__(self):
                inner.__enter__()
                return self.advance

            def __exit__(self, *exc):
                return inner.__exit__(*exc)

            @staticmethod
            def advance(n):
                if not progress.killed:
                    progress.killed = True
                    for i in range(2):
                        worker = progress.ray.get_actor(WORKER_NAME.format(i))
                        progress.ray.kill(worker, no_restart=not progress.restart)

        return Stage()


def test_sharded_on_two_ray_workers_killed_mid_build_equals_the_single_process_build(ray_local, single, tmp_path,
                                                                                      bert_dir):
    """The 4 shards on 2 workers, both killed once the first shard has come back: they are restarted, the shards
    they held run again, and the database and pages equal the single-process build's byte for byte. (One build for
    both claims: a Ray build costs two workers' start, 10-25 s beside the other tests.)"""
    assert len(CORPUS) == 4 * 16
    progress = KillWorkers(ray_local, restart=True)
    site = _build(tmp_path, bert_dir, progress, ray="auto")
    assert progress.killed
    _assert_same(site, single)
    assert ray_local.cluster_resources()["CPU"] == 2


def test_a_shard_that_cannot_run_stops_the_build_and_keeps_the_old_site(ray_local, single, tmp_path, bert_dir):
    from reportgen.errors import ModelError

    old = tmp_path / "site"
    shutil.copytree(single, old)  # a previous report in the folder
    before = site_files(old)
    progress = KillWorkers(ray_local, restart=False)
    with pytest.raises(ModelError) as caught:
        _build(tmp_path, bert_dir, progress, ray="auto")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("--ray: shard ") and "corpus sentences" in message and "nothing was changed" in message
    first, last = (int(x) for x in message.split("corpus sentences ")[1].split(")")[0].split(" to "))
    assert last - first == 15 and first >= 2  # one window of 16 sentences, after the 2 probes
    assert site_files(old) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


@pytest.mark.unit
def test_without_ray_installed_the_error_names_the_extra(tmp_path, monkeypatch, corpus_file, probes_file, bert_dir):
    """The missing Ray is found at the preflight, before any weight is read (not after the attributions)."""
    import reportgen.commands.build as build_module

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails

    def no_loading(*args, **kwargs):
        raise AssertionError("the model was loaded before Ray was found missing")

    monkeypatch.setattr(build_module, "load_model", no_loading)
    result = CliRunner().invoke(main, ["build", "--model", str(bert_dir), "--corpus", str(corpus_file), "--probes",
                                       str(probes_file), "--out", str(tmp_path / "site"), "--ray", "--quiet"])
    assert_clean_failure(result, "--ray", "reportgen[ray]")
    assert not (tmp_path / "site").exists()


@pytest.mark.unit
def test_ray_options_in_the_config_file(tmp_path):
    from reportgen.analyses.registry import load_config

    (tmp_path / "a.toml").write_text("ray = true\n")
    (tmp_path / "b.toml").write_text('ray_address = "10.0.0.5:6379"\n')
    (tmp_path / "c.toml").write_text("ray = 3\n")
    assert load_config(tmp_path / "a.toml").ray == "auto"
    assert load_config(tmp_path / "b.toml").ray == "10.0.0.5:6379"
    assert load_config(None).ray is None
    from reportgen.errors import ConfigError

    with pytest.raises(ConfigError, match="ray: expected"):
        load_config(tmp_path / "c.toml")
    # where the pass ran is not part of the report
    assert "ray" not in load_config(tmp_path / "b.toml").options()


@pytest.mark.unit
def test_a_cpu_worker_reserves_as_many_cpus_as_its_threads():
    from reportgen.corpus_pass.ray import worker_cpus, workers_of

    assert worker_cpus(2, [2.0], gpu=False) == 2  # two cores: one worker of two threads, not two of two each
    assert worker_cpus(1, [2.0], gpu=False) == 1
    assert worker_cpus(0, [8.0], gpu=False) == 1  # torch's default threads: one CPU, as before
    assert worker_cpus(16, [8.0, 4.0], gpu=False) == 8  # never more than the largest node has
    assert worker_cpus(16, [8.0], gpu=True) == 1  # the model runs on the GPU
    # the workers a cluster runs: as many as its CPUs hold, one per GPU, never more than the shards
    assert workers_of(2, [2.0], 2, 0, 4) == (1, 2)
    assert workers_of(1, [2.0], 2, 0, 4) == (2, 1)
    assert workers_of(4, [8.0, 8.0], 16, 0, 3) == (3, 4)
    assert workers_of(4, [8.0], 8, 2, 6) == (2, 1)
