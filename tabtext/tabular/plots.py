"""Plot an entity embedding: its 2 principal components, points labeled by category."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..core.recorder import _subplots, save_fig


def plot_embedding(
    emb: pd.DataFrame, column: str, path: str | Path, max_labels: int = 60
) -> Path:
    """PNG of ``emb`` (categories x dims) projected by PCA onto 2 dimensions.

    Row 0 (the unknown/missing slot, never trained on known data) is left out. With
    more than ``max_labels`` categories only an even sample of them is labeled.
    """
    emb = emb.iloc[1:] if len(emb) > 2 else emb
    w = emb.to_numpy(dtype=np.float64)
    w = w - w.mean(0)
    if w.shape[1] >= 2:
        _, _, vt = np.linalg.svd(w, full_matrices=False)
        xy = w @ vt[:2].T
    else:
        xy = np.hstack([w, np.zeros_like(w)])
    fig, (ax,) = _subplots(1)
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    step = max(1, int(np.ceil(len(emb) / max_labels)))
    for i in range(0, len(emb), step):
        ax.annotate(
            str(emb.index[i]),
            xy[i],
            fontsize=8,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set(
        title=f"embedding of {column} ({emb.shape[1]} dims, PCA)",
        xlabel="PC 1",
        ylabel="PC 2",
    )
    return save_fig(fig, path)
