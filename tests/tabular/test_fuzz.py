"""Property-based fuzzing of EmbeddingModel with hostile DataFrames.

Every generated case must either work -- finite predictions of the right shape,
``predict_proba`` rows summing to 1 -- or fail with a clear ``ValueError`` or
``TypeError`` raised on purpose by tabtext or scikit-learn's validation: never an
IndexError/KeyError/RuntimeError, an error leaking out of pandas/numpy/torch
internals, or a silent NaN prediction. The three properties below run 1,000 cases in
total on tiny settings (about 30 s on one CPU thread); ``derandomize`` makes them
the same cases on every run.
"""

from __future__ import annotations

import string
import tempfile
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from tabtext.tabular import EmbeddingClassifier, EmbeddingModel, EmbeddingRegressor

# sklearn's "X does not have valid feature names" and y-shape warnings are expected here
pytestmark = [
    pytest.mark.filterwarnings("ignore:X does not have valid feature names"),
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.DataConversionWarning"),
]
TINY = dict(
    epochs=1, layers=(8,), ps=(0.0,), batch_size=16, random_state=0, device="cpu"
)
FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Frames whose errors are ours: a ValueError/TypeError must be raised by code here.
_OWN_CODE = (f"{Path('tabtext')}/", f"{Path('sklearn')}/")

WORDS = st.text(alphabet=string.ascii_letters + " éß€😀\t", min_size=0, max_size=6)
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
SMALL_FLOATS = st.floats(-1e6, 1e6, allow_nan=False)
TIMES = st.datetimes(
    min_value=pd.Timestamp("1900-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2200-01-01").to_pydatetime(),
)
MIXED = st.one_of(
    WORDS,
    st.integers(-5, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.none(),
    st.booleans(),
    TIMES,
)
KINDS = (
    "float",
    "int",
    "Int64",
    "bool",
    "boolean",
    "category",
    "str",
    "string",
    "mixed",
    "datetime",
    "datetime_tz",
    "all_nan",
    "all_none",
    "unique",
    "huge_float",
    "timedelta",
)


def column(kind: str, n: int, draw) -> pd.Series:
    """A column of ``n`` values of one kind, with gaps where the kind allows them."""
    if kind == "float":
        return pd.Series(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=float)
    if kind == "huge_float":
        vals = draw(
            st.lists(
                st.sampled_from([1e308, -1e308, 1e-308, 0.0]), min_size=n, max_size=n
            )
        )
        return pd.Series(vals, dtype=float)
    if kind == "int":
        return pd.Series(
            draw(st.lists(st.integers(-(2**62), 2**62), min_size=n, max_size=n)),
            dtype="int64",
        )
    if kind == "Int64":
        vals = draw(
            st.lists(st.one_of(st.none(), st.integers(-9, 9)), min_size=n, max_size=n)
        )
        return pd.Series(vals, dtype="Int64")
    if kind == "bool":
        return pd.Series(
            draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool
        )
    if kind == "boolean":
        vals = draw(
            st.lists(st.one_of(st.none(), st.booleans()), min_size=n, max_size=n)
        )
        return pd.Series(vals, dtype="boolean")
    if kind == "category":
        vals = draw(
            st.lists(
                st.one_of(st.none(), st.sampled_from("abc")), min_size=n, max_size=n
            )
        )
        return pd.Series(pd.Categorical(vals, categories=list("abcd")))
    if kind == "str":
        vals = draw(st.lists(st.one_of(st.none(), WORDS), min_size=n, max_size=n))
        return pd.Series(vals, dtype=object)
    if kind == "string":
        vals = draw(st.lists(st.one_of(st.none(), WORDS), min_size=n, max_size=n))
        return pd.Series(vals, dtype="string")
    if kind == "mixed":
        return pd.Series(draw(st.lists(MIXED, min_size=n, max_size=n)), dtype=object)
    if kind in ("datetime", "datetime_tz"):
        vals = draw(st.lists(st.one_of(st.none(), TIMES), min_size=n, max_size=n))
        s = pd.Series(pd.to_datetime(vals))
        return s.dt.tz_localize("UTC") if kind == "datetime_tz" else s
    if kind == "all_nan":
        return pd.Series([np.nan] * n, dtype=float)
    if kind == "all_none":
        return pd.Series([None] * n, dtype=object)
    if kind == "unique":  # huge cardinality: every row its own category
        return pd.Series(
            [f"id{i}_{draw(st.integers(0, 9))}" for i in range(n)], dtype=object
        )
    if kind == "timedelta":
        vals = draw(
            st.lists(
                st.one_of(st.none(), st.integers(0, 10**6)), min_size=n, max_size=n
            )
        )
        return pd.Series(pd.to_timedelta(vals, unit="s"))
    raise AssertionError(kind)


@st.composite
def frames(draw, max_rows: int = 40, max_cols: int = 4):
    """A DataFrame of random kinds of columns; returns (frame, kinds)."""
    n = draw(st.sampled_from([0, 1, 2, 3, 5, 8, 13, 17, 24, 33, max_rows]))
    no_columns = draw(st.integers(0, 24)) == 0
    kinds = (
        []
        if no_columns
        else draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=max_cols))
    )
    cols = [column(k, n, draw) for k in kinds]
    names = [f"c{i}" for i in range(len(cols))]
    return _assemble(cols, names, n), kinds


def _assemble(cols: list[pd.Series], names: list, n: int) -> pd.DataFrame:
    if not cols:
        return pd.DataFrame(index=range(n))
    frame = pd.concat([c.reset_index(drop=True) for c in cols], axis=1)
    frame.columns = names
    return frame


TARGET_KINDS = {
    "model": [
        "labels",
        "int_labels",
        "bool",
        "one_class",
        "floats",
        "extreme",
        "multilabel",
        "nan",
        "mixed",
    ],
    "classifier": ["labels", "int_labels", "bool", "one_class", "multilabel", "mixed"],
    "regressor": ["floats", "extreme", "nan", "int_labels"],
}


@st.composite
def targets(draw, n: int, est_kind: str = "model"):
    """A target for ``n`` rows: labels, one class, floats, extremes, multi-label."""
    kind = draw(st.sampled_from(TARGET_KINDS[est_kind]))
    values = {
        "labels": st.sampled_from(["x", "y", "z"]),
        "int_labels": st.integers(0, 3),
        "bool": st.booleans(),
        "one_class": st.just("only"),
        "floats": SMALL_FLOATS,
        "extreme": st.sampled_from([1e308, -1e308, 1e-300, 0.0, 3.5, 1e200]),
        "multilabel": st.tuples(st.integers(0, 1), st.integers(0, 1)),
        "nan": st.one_of(st.just(np.nan), SMALL_FLOATS),
        "mixed": st.one_of(st.integers(0, 2), st.sampled_from("ab")),
    }[kind]
    y = draw(st.lists(values, min_size=n, max_size=n))
    if kind == "multilabel":
        return np.asarray(y, dtype=int).reshape(n, 2)
    return np.asarray(y, dtype=object if kind in ("labels", "mixed") else None)


ESTIMATORS = {
    "model": EmbeddingModel,
    "classifier": EmbeddingClassifier,
    "regressor": EmbeddingRegressor,
}


def note(text: str) -> None:
    """Count outcomes (``pytest --hypothesis-show-statistics`` lists them)."""
    if currently_in_test_context():
        event(text)


def attempt(fn, *args):
    """``fn(*args)``, or None after a clear ValueError/TypeError of our own making."""
    try:
        out = fn(*args)
        note(f"{fn.__name__}: ok")
        return out
    except (ValueError, TypeError) as err:
        note(f"{fn.__name__}: {type(err).__name__} {str(err)[:60]}")
        frames = traceback.extract_tb(err.__traceback__)
        origin = frames[-1].filename if frames else ""
        assert any(part in origin for part in _OWN_CODE), (
            f"{type(err).__name__} leaked from {origin}: {err}"
        )
        assert str(err).strip(), "an error without a message"
        return None


def check_predictions(est, X, transform: bool = True) -> None:
    """Predict on ``X`` and check shapes, finiteness and probabilities."""
    pred = attempt(est.predict, X)
    if pred is None:
        return
    n = len(X)
    assert len(pred) == n
    if est.task_ == "regression":
        assert np.isfinite(np.asarray(pred, dtype=float)).all(), pred
    elif est.task_ == "classification":
        assert pred.shape == (n,) and set(pred) <= set(est.classes_)
    else:
        assert pred.shape == (n, est.target_.n_out) and set(np.unique(pred)) <= {0, 1}
    if est.task_ != "regression":
        proba = est.predict_proba(X)
        assert np.isfinite(proba).all(), proba
        if est.task_ == "classification":
            assert proba.shape == (n, len(est.classes_))
            assert np.allclose(proba.sum(1), 1, atol=1e-5)
    if transform:
        Z = est.transform(X)
        assert Z.shape[0] == n and np.isfinite(Z).all()


def fit(kind: str, X, y):
    return attempt(ESTIMATORS[kind](**TINY).fit, X, y)


# ---- 1. random frames, random targets: fit, then predict on fresh rows ------------------
@settings(FUZZ, max_examples=420)
@given(data=st.data(), est_kind=st.sampled_from(sorted(ESTIMATORS)))
def test_random_frames_fit_and_predict(data, est_kind):
    X, kinds = data.draw(frames())
    y = data.draw(targets(len(X), est_kind))
    est = fit(est_kind, X, y)
    if est is None:
        return
    check_predictions(est, X)
    n_new = data.draw(st.integers(1, 12))
    fresh = _assemble(
        [column(k, n_new, data.draw) for k in kinds], list(X.columns), n_new
    )
    # unseen categories, new NaNs, new extremes (transform: checked on training rows)
    check_predictions(est, fresh, transform=False)


# ---- 2. surprises at predict time, on models fitted once -------------------------------
def _all_kinds_frame(n: int = 48, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cats = rng.choice(["a", "b", "c"], n)
    frame = pd.DataFrame(
        {
            "float": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "int": rng.integers(0, 100, n),
            "Int64": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "bool": rng.random(n) < 0.5,
            "category": pd.Categorical(cats),
            "str": cats.astype(object),
            "mixed": pd.Series([1, "a", 2.5, None] * (n // 4), dtype=object),
            "datetime": pd.Timestamp("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 900, n), "D"),
            "all_nan": np.full(n, np.nan),
            "unique": [f"id{i}" for i in range(n)],
        }
    )
    return frame


@pytest.fixture(scope="module")
def fitted():
    X = _all_kinds_frame()
    y_cls = np.where(X["int"] > 50, "hi", "lo")
    y_multi = np.stack([X["int"] > 50, X["bool"]], 1).astype(int)
    return {
        "binary": EmbeddingClassifier(**TINY).fit(X, y_cls),
        "multiclass": EmbeddingClassifier(**TINY).fit(X, X["int"].to_numpy() % 3),
        "multilabel": EmbeddingClassifier(**TINY).fit(X, y_multi),
        "regression": EmbeddingRegressor(**TINY).fit(X, X["int"].to_numpy() * 1.5),
    }


SURPRISES = (
    "fresh",  # unseen categories, new NaNs and infs
    "swap_dtype",  # a column arrives with another dtype than in training
    "reorder_extra",
    "drop_column",
    "array",
    "empty",
    "one_row",
    "all_missing",
)


@settings(FUZZ, max_examples=430)
@given(
    data=st.data(),
    which=st.sampled_from(["binary", "multiclass", "multilabel", "regression"]),
    surprise=st.sampled_from(SURPRISES),
)
def test_surprises_at_predict_time(fitted, data, which, surprise):
    est = fitted[which]
    n = data.draw(st.integers(1, 12))
    names = list(est.input_columns_)  # named after their kinds
    X = _assemble([column(k, n, data.draw) for k in names], names, n)
    if surprise == "swap_dtype":
        name = data.draw(st.sampled_from(names))
        X[name] = column(data.draw(st.sampled_from(KINDS)), n, data.draw).to_numpy()
    elif surprise == "reorder_extra":
        X = X[list(reversed(X.columns))].assign(
            extra=data.draw(st.sampled_from(["q", 1.0]))
        )
    elif surprise == "drop_column":
        X = X.drop(columns=data.draw(st.sampled_from(list(X.columns))))
    elif surprise == "array":
        X = X.to_numpy()
    elif surprise == "empty":
        X = X.iloc[:0]
    elif surprise == "one_row":
        X = X.iloc[:1]
    elif surprise == "all_missing":
        X = pd.DataFrame({c: [None] * n for c in X.columns}, dtype=object)
    check_predictions(est, X, transform=data.draw(st.booleans()))


# ---- 3. column names: non-string, duplicated, clashing with derived names ---------------
NAMES = st.one_of(
    st.sampled_from(["a", "a_na", "d_year", "d", "", " ", "0", "x0"]),
    st.integers(-2, 2),
    st.floats(allow_nan=True, allow_infinity=False, width=16),
    st.none(),
    st.tuples(st.sampled_from("ab"), st.integers(0, 1)),
    st.booleans(),
)


@settings(FUZZ, max_examples=150)
@given(
    data=st.data(),
    names=st.lists(NAMES, min_size=1, max_size=4),
)
def test_odd_column_names(data, names):
    n = 24
    kinds = data.draw(
        st.lists(st.sampled_from(KINDS), min_size=len(names), max_size=len(names))
    )
    X = _assemble([column(k, n, data.draw) for k in kinds], names, n)
    y = np.asarray(["p", "q"] * (n // 2))
    est = fit("model", X, y)
    if est is None:
        return
    check_predictions(est, X)
    with tempfile.TemporaryDirectory() as tmp:  # names survive the JSON round trip
        again = EmbeddingModel.load(est.save(Path(tmp) / "m"))
    assert np.array_equal(again.predict_proba(X), est.predict_proba(X))


# ---- 4. huge cardinality -------------------------------------------------------------
def test_huge_cardinality_column():
    n = 3000
    X = pd.DataFrame({"id": [f"user{i}" for i in range(n)], "v": np.arange(n) % 7})
    y = np.arange(n) % 2
    est = EmbeddingClassifier(**TINY, min_freq=1).fit(X, y)  # every id its own row
    assert est.preprocessor_.cardinalities_ == [n + 1]
    new = pd.DataFrame({"id": ["user5", "never seen", None], "v": [1, np.nan, np.inf]})
    check_predictions(est, new)


# ---- 5. the crashes the fuzzer found, pinned ---------------------------------------------
def test_extreme_continuous_values_give_finite_predictions():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "huge": [1e308] * 4})
    est = EmbeddingClassifier(**TINY).fit(X, ["x", "y", "x", "y"])  # NaN loss before
    new = pd.DataFrame({"a": [3.2e38, -1e300, np.inf], "huge": [-1e308, 1e308, 0.0]})
    check_predictions(est, new)  # inf in float32 -> NaN probabilities before


def test_regression_targets_near_the_float_limit():
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    est = EmbeddingRegressor(**TINY).fit(X, [1e308, -1e308, 1e308, 0.0])
    assert np.isfinite(est.predict(X)).all()  # +-inf before: the std overflowed


def test_mixed_label_types_and_python_equal_names_are_refused_clearly():
    X = pd.DataFrame({"a": [0.0, 1.0]})
    with pytest.raises(TypeError, match=r"mixes label types \['int', 'str'\]"):
        EmbeddingModel(**TINY).fit(X, np.array(["a", 0], dtype=object))
    X2 = pd.DataFrame([[1, 2], [3, 4]])
    X2.columns = pd.Index([0, False], dtype=object)  # 0 == False: narwhals crashed
    with pytest.raises(ValueError, match="equal in Python"):
        EmbeddingModel(**TINY).fit(X2, [0, 1])
