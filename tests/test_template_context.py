"""Each page type's view dataclass against its template (datasette's template-context test): the names the
template reads of `page` (in the template, the base template it extends, and the macros it calls) are exactly the
dataclass's fields, with its properties allowed too; a field the template does not read must say that the renderer
uses it (field metadata {"template": False})."""

from __future__ import annotations

import dataclasses

import jinja2
import pytest
from jinja2 import nodes

from reportgen.site.jinja import environment
from reportgen.site.views import PAGES

pytestmark = pytest.mark.unit


def _page_attributes(tree, name: str = "page") -> set[str]:
    return {n.attr for n in tree.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name) and n.node.name == name}


def _parse(env: jinja2.Environment, template: str):
    return env.parse(env.loader.get_source(env, template)[0])


def used_names(env: jinja2.Environment, template: str) -> set[str]:
    """What a template reads of `page`, through its base templates and the macros it calls."""
    tree = _parse(env, template)
    used = _page_attributes(tree)
    for extends in tree.find_all(nodes.Extends):
        used |= used_names(env, extends.template.value)
    macros = {}
    for imported in tree.find_all(nodes.FromImport):
        source = _parse(env, imported.template.value)
        defined = {m.name: m for m in source.find_all(nodes.Macro)}
        for name in imported.names:
            name = name[0] if isinstance(name, tuple) else name
            macros[name] = defined[name]
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name in macros:
            macro = macros[call.node.name]
            used |= _page_attributes(macro)  # `page` from the context, or a parameter named page
    return used


def _properties(cls) -> set[str]:
    return {name for name in dir(cls) if isinstance(getattr(cls, name, None), property)}


@pytest.mark.parametrize("kind", PAGES, ids=[k.name for k in PAGES])
def test_each_page_dataclass_is_what_its_template_reads(kind):
    env = environment()
    used = used_names(env, kind.template)
    fields = {f.name for f in dataclasses.fields(kind.view) if f.metadata.get("template", True)}
    assert fields == used - _properties(kind.view), kind.name
    assert used <= fields | _properties(kind.view), kind.name


def test_the_template_reader_sees_macros_and_base_templates():
    env = jinja2.Environment(loader=jinja2.DictLoader({
        "base.html": "{{ page.title }}{% block body %}{% endblock %}",
        "m.html": "{% macro box(x) %}{{ page.root }}{{ x.inner }}{% endmacro %}{% macro unused() %}{{ page.no }}"
                  "{% endmacro %}",
        "p.html": '{% extends "base.html" %}{% from "m.html" import box, unused with context %}'
                  "{% block body %}{{ box(page.child) }}{% endblock %}",
    }))
    assert used_names(env, "p.html") == {"title", "root", "child"}
