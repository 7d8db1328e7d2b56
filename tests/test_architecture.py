"""The layout of the code (DESIGN.md, "Layout: packages by stage, imports only downward"), checked on every module's
syntax tree, function-local imports included: no import cycle, no private name imported from another module, no
import that goes up a level, the presentation layer on levels 1-3 only and without torch, and small modules and
classes."""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parent.parent / "reportgen"

# level of each module, by the longest matching prefix of its dotted name
LEVELS = {
    "reportgen": 1, "reportgen.errors": 1, "reportgen.machine": 1, "reportgen.vocab": 1, "reportgen.progress": 1,
    "reportgen.resources": 1,
    "reportgen.config": 2, "reportgen.options": 2,
    "reportgen.corpus": 3, "reportgen.unit": 3, "reportgen.ranking": 3, "reportgen.annotate": 3, "reportgen.align": 3, "reportgen.patterns": 3,
    "reportgen.store": 3,
    "reportgen.models": 4, "reportgen.gguf_reads": 4, "reportgen.families": 4, "reportgen.encode": 4,
    "reportgen.provenance": 4,
    "reportgen.analyses": 5, "reportgen.studies": 5,
    "reportgen.corpus_pass": 6, "reportgen.probe_pass": 6, "reportgen.preflight": 6,
    # the control model runs a corpus pass of its own; the registry, which lists it, stands above it
    "reportgen.analyses.control": 6, "reportgen.analyses.registry": 6,
    "reportgen.site": 7,
    "reportgen.commands": 8,
    "reportgen.cli": 9, "reportgen.__main__": 9,
}
SITE_MAY_IMPORT = 3  # rendering reads the database through the store; it never loads a model
HEAVY = ("torch", "transformers", "captum", "spacy", "ray", "sklearn")  # never imported by the site package
MAX_MODULE_LINES = 400
MAX_CLASS_LINES = 200


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


@functools.cache  # parsed once per process for the tests below (each reads every module's imports)
def _imports(name: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) of every import in a module, at any depth of its tree (the
    list is shared between callers: read it, do not change it)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            names = [alias.name for alias in node.names]
            # `from package import submodule` imports the submodule
            subs = [n for n in names if f"{target}.{n}" in MODULES]
            out += [(f"{target}.{n}", [], node.lineno) for n in subs]
            rest = [n for n in names if n not in subs]
            if rest or not subs:
                out.append((target, rest, node.lineno))
    return out


def _project_imports() -> dict[str, list[tuple[str, list[str], int]]]:
    return {name: [(t, n, line) for t, n, line in _imports(name) if t == "reportgen" or t.startswith("reportgen.")]
            for name in MODULES}


def level(name: str) -> int:
    match = max((prefix for prefix in LEVELS if name == prefix or name.startswith(prefix + ".")), key=len)
    return LEVELS[match]


def test_every_module_has_a_level():
    for name in MODULES:
        assert any(name == p or name.startswith(p + ".") for p in LEVELS), f"{name}: give it a level in LEVELS"


def test_imports_only_go_down_or_stay_on_their_level():
    wrong = []
    for name, imports in _project_imports().items():
        for target, _names, line in imports:
            if target in MODULES and level(target) > level(name):
                wrong.append(f"{name}:{line} (level {level(name)}) imports {target} (level {level(target)})")
    assert wrong == []


def test_the_site_imports_levels_one_to_three_and_never_torch():
    wrong = []
    for name in MODULES:
        if level(name) != LEVELS["reportgen.site"]:
            continue
        for target, _names, line in _imports(name):
            if target.startswith("reportgen.") and not target.startswith("reportgen.site") and target in MODULES \
                    and level(target) > SITE_MAY_IMPORT:
                wrong.append(f"{name}:{line} imports {target}")
            if target.split(".")[0] in HEAVY:
                wrong.append(f"{name}:{line} imports {target}")
    assert wrong == []


def test_only_the_charts_build_altair_charts():
    users = {name for name in MODULES for target, _n, _l in _imports(name) if target.split(".")[0] == "altair"}
    assert users and all(name.startswith("reportgen.site.charts") for name in users), sorted(users)


def test_no_private_name_is_imported_from_another_module():
    wrong = [f"{name}:{line} imports {n} from {target}" for name, imports in _project_imports().items()
             for target, names, line in imports for n in names if n.startswith("_") and not n.startswith("__")]
    assert wrong == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (Tarjan), and modules importing themselves."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_function_local_imports_included():
    graph: dict[str, set[str]] = defaultdict(set)
    for name, imports in _project_imports().items():
        for target, _names, _line in imports:
            if target in MODULES and target != name:
                graph[name].add(target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_classes_are_small(name):
    text = MODULES[name].read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name}: over {MAX_MODULE_LINES} lines; split it by concern"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            lines = node.end_lineno - node.lineno + 1
            assert lines <= MAX_CLASS_LINES, f"{name}.{node.name}: {lines} lines, over {MAX_CLASS_LINES}"


def test_the_orchestrator_names_no_analysis():
    """commands/build.py holds the registry's lists: it imports no accumulator, derived or per-probe analysis."""
    analyses = {t for t, _n, _l in _project_imports()["reportgen.commands.build"] if t.startswith("reportgen.analyses")}
    assert analyses <= {"reportgen.analyses.registry", "reportgen.analyses.base"}, analyses
