"""Optional dependencies (the extras in pyproject), imported only when a feature runs."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``, or raise an ImportError naming the extra
    that installs it (``pip install 'tabtext[extra]'``)."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{feature} needs the optional package {module.split('.')[0]!r}, which "
            f"is not installed: pip install 'tabtext[{extra}]'"
        ) from e
