"""Rescaling of the standardized continuous columns, fitted on the training rows.

Two alternatives to plain standardisation for the inputs of a network:

- :class:`QuantileNormal`: each column mapped through its empirical CDF onto a normal
  distribution, scikit-learn's ``QuantileTransformer(output_distribution="normal")``
  (the transform Gorishniy et al. 2021/2022 use for MLPs on tables). Heavy tails and
  skew disappear; only the order of the values is kept.
- :class:`RobustScale`: ``(x - median) / IQR`` then a smooth clip
  ``x / sqrt(1 + (x / 3) ** 2)`` into (-3, 3) (RealMLP, Holzmüller et al. 2024,
  "Better by Default"): outliers are tamed but distances near the centre are kept.

Both act on the standardized values of :class:`~tabtext.tabular.numeric.Standardize`:
each is invariant to that affine map, so the result is the same as on the raw values.
They work on 2-D float arrays whose columns are named at fit, and have ``to_dict`` /
``from_dict`` for a JSON-only round trip.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import QuantileTransformer

#: rows sampled to fit the quantiles (QuantileTransformer's ``subsample``)
QUANTILE_SUBSAMPLE = 100_000
SMOOTH_CLIP = 3.0


def n_quantiles_for(n_rows: int) -> int:
    """About one quantile per 30 rows, between 10 and 1,000 (and at most n_rows)."""
    return max(1, min(n_rows, max(10, min(1000, n_rows // 30))))


class QuantileNormal:
    """Quantile transform of each column onto a standard normal distribution.

    Parameters
    ----------
    names : list of str
        The columns, in the order of the arrays' columns.

    Examples
    --------
    >>> x = np.random.default_rng(0).lognormal(size=(500, 1))
    >>> q = QuantileNormal(["price"]).fit(x)
    >>> z = q.transform(x)
    >>> bool(abs(z.mean()) < 0.1 and abs(z.std() - 1) < 0.1)
    True
    """

    kind = "quantile"

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)

    def fit(self, x: np.ndarray) -> QuantileNormal:
        """Learn the quantiles of each column of ``x`` (n_rows, n_cols); NaNs are
        ignored."""
        x = _check(x, self.names)
        nq = n_quantiles_for(len(x))
        qt = QuantileTransformer(
            n_quantiles=nq, output_distribution="normal",
            subsample=QUANTILE_SUBSAMPLE, random_state=0,
        )  # fmt: skip
        self._qt = qt.fit(x)
        return self

    @property
    def quantiles_(self) -> np.ndarray:
        return self._qt.quantiles_  # (n_quantiles, n_cols)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Normal scores of ``x``, float64, within about +/-5.2."""
        return self._qt.transform(_check(x, self.names))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "names": self.names,
            "quantiles": self.quantiles_.T.tolist(),  # one list per column
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuantileNormal:
        obj = cls(d["names"])
        quantiles = np.asarray(d["quantiles"], dtype=np.float64).T
        nq = quantiles.shape[0]
        # a fitted QuantileTransformer is its parameters and these four attributes
        qt = QuantileTransformer(n_quantiles=nq, output_distribution="normal")
        qt.quantiles_ = quantiles
        qt.references_ = np.linspace(0, 1, nq, endpoint=True)
        qt.n_quantiles_ = nq
        qt.n_features_in_ = len(obj.names)
        obj._qt = qt
        return obj


class RobustScale:
    """``(x - median) / IQR``, then the smooth clip ``x / sqrt(1 + (x / 3)^2)``.

    A column whose IQR is 0 (mostly one value) is scaled by half its range instead,
    a constant one by 1.

    Parameters
    ----------
    names : list of str
        The columns, in the order of the arrays' columns.
    """

    kind = "robust"

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)

    def fit(self, x: np.ndarray) -> RobustScale:
        """Learn each column's median and scale from ``x`` (n_rows, n_cols); NaNs are
        ignored."""
        x = _check(x, self.names)
        q1, med, q3 = np.nanpercentile(x, [25, 50, 75], axis=0)
        scale = q3 - q1
        half_range = (np.nanmax(x, 0) - np.nanmin(x, 0)) / 2
        scale = np.where(scale > 0, scale, np.where(half_range > 0, half_range, 1.0))
        self.medians_, self.scales_ = med, scale
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scaled and smoothly clipped values in (-3, 3), float64."""
        z = (_check(x, self.names) - self.medians_) / self.scales_
        return z / np.sqrt(1 + (z / SMOOTH_CLIP) ** 2)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "names": self.names,
            "medians": self.medians_.tolist(),
            "scales": self.scales_.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RobustScale:
        obj = cls(d["names"])
        obj.medians_ = np.asarray(d["medians"], dtype=np.float64)
        obj.scales_ = np.asarray(d["scales"], dtype=np.float64)
        return obj


SCALERS = {"quantile": QuantileNormal, "robust": RobustScale}
CONT_SCALINGS = ("standard", *SCALERS)


def scaler_from_dict(d: dict[str, Any] | None) -> QuantileNormal | RobustScale | None:
    """Inverse of ``scaler.to_dict()``; None stays None."""
    if d is None:
        return None
    if d.get("kind") not in SCALERS:
        raise ValueError(
            f"unknown continuous scaler {d.get('kind')!r}; expected one of "
            f"{sorted(SCALERS)}"
        )
    return SCALERS[d["kind"]].from_dict(d)


def _check(x: np.ndarray, names: list[str]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(
            f"expected an array of {len(names)} columns {names}, got shape {x.shape}"
        )
    return x


__all__ = [
    "CONT_SCALINGS",
    "QuantileNormal",
    "RobustScale",
    "n_quantiles_for",
    "scaler_from_dict",
]
