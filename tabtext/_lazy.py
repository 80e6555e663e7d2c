"""Lazy package exports (PEP 562) shared by ``tabtext.nlp`` and ``tabtext.tabular``.

Their submodules load on first use, so that ``python -m tabtext.<pkg>.<cli>`` runs the
CLI module's first lines (which set OMP_WAIT_POLICY) before torch loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, tuple[str, str]], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for ``exports``.

    ``exports`` maps a public name to (relative module, attribute); the first lookup
    imports the module and caches the value in ``namespace`` (the package's globals).
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = exports[name]
        value = getattr(importlib.import_module(module, package), attr)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
