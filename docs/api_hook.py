"""MkDocs hook: expand ``<!-- api: PACKAGE -->`` into one mkdocstrings block per
public name of PACKAGE (its ``__all__``), each at the module that defines it, and
``<!-- config-flags -->`` into the table of the text CLIs' config flags.

tabtext's packages export their names lazily (PEP 562), which griffe's static analysis
cannot follow; inspecting them instead gives every constant its type's docstring. So
the list of names comes from importing the package, and each object is then read
statically where it is defined: the reference follows ``__all__`` and the package
layout by itself, with no module path written in the docs.
"""

from __future__ import annotations

import importlib
import inspect
import re

MARKER = re.compile(r"<!--\s*api:\s*(?P<pkg>[\w.]+)\s*-->")


def _blocks(package: str) -> str:
    pkg = importlib.import_module(package)
    out = []
    for name in sorted(pkg.__all__, key=str.lower):
        obj = getattr(pkg, name)
        defined_here = str(getattr(obj, "__module__", "")).startswith("tabtext")
        if (
            inspect.ismodule(obj)
            or not hasattr(obj, "__qualname__")
            or not defined_here
        ):
            continue  # submodules, constants and type aliases: the guides describe them
        out.append(f"::: {obj.__module__}.{obj.__qualname__}")
        if obj.__qualname__ != name:
            out.append(f"    options:\n      heading: {name}\n      toc_label: {name}")
        out.append("")
    return "\n".join(out)


FLAGS = re.compile(r"^(?P<indent>[ \t]*)<!--\s*config-flags\s*-->", re.M)


def _flags(indent: str) -> str:
    """The text CLIs' config flags as a table, from the fields' help metadata (the
    same text as ``--help``), indented to sit where the marker stands."""
    from tabtext.nlp.cli import flags_table

    return "\n".join(indent + row for row in flags_table().splitlines())


def on_page_markdown(markdown: str, **kwargs) -> str:
    markdown = FLAGS.sub(lambda m: _flags(m["indent"]), markdown)
    return MARKER.sub(lambda m: _blocks(m["pkg"]), markdown)
