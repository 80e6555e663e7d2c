"""Small helpers of the evidence report: mean ± std over seeds, comparisons, plots."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

MISSING = "not run yet"


def values(records: Iterable[dict], field: str = "value") -> list[float]:
    return [float(r["result"][field]) for r in records]


def mean_std(xs: list[float]) -> tuple[float, float]:
    """Mean and sample std (0 for one value); NaN mean for none."""
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def fmt(xs: list[float], digits: int = 4) -> str:
    """``mean ± std (n)`` or "not run yet"."""
    if not xs:
        return MISSING
    m, s = mean_std(xs)
    return f"{m:.{digits}f} ± {s:.{digits}f} (n={len(xs)})"


def better(a: float, b: float, higher: bool) -> bool:
    return a > b if higher else a < b


def clearly_better(a: list[float], b: list[float], higher: bool) -> bool:
    """``a``'s mean beats ``b``'s by more than the larger of their stds (a cautious
    reading of a few seeds; with one seed each, any difference counts)."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    if math.isnan(ma) or math.isnan(mb):
        return False
    margin = max(sa, sb)
    return (ma - mb > margin) if higher else (mb - ma > margin)


def by_seed(results: dict[str, dict], prefix: str) -> list[dict]:
    """The records whose key is ``prefix/seed=N``, in key order."""
    return [r for k, r in sorted(results.items()) if k.rsplit("/seed=", 1)[0] == prefix]


def verdict_from_counts(hits: int, total: int, what: str) -> str:
    """ "holds" when every case agrees, "holds partly" when some do, else "does not
    hold here" (or "not run yet" without cases), followed by ``what``."""
    if total == 0:
        return f"{MISSING}: no finished cells"
    word = (
        "holds" if hits == total else "holds partly" if hits else "does not hold here"
    )
    return f"**{word}**: {what} ({hits} of {total})"


def figure(n_panels: int, width: float = 4.2, height: float = 3.2):
    """A row of ``n_panels`` small matplotlib axes (Agg backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, n_panels, figsize=(width * n_panels, height), squeeze=False
    )
    return fig, list(axes[0])


def save(fig, img_dir: Path, name: str) -> str:
    """Save ``fig`` as ``img_dir/name`` (small PNG, written atomically) and return
    its path relative to the docs folder."""
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    tmp = img_dir / f".{name}.tmp.png"
    fig.savefig(tmp, dpi=80)
    plt.close(fig)
    tmp.replace(img_dir / name)
    return f"img/evidence/{name}"
