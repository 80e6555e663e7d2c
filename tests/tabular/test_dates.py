"""DateExpander: exact calendar parts for known dates, NaT, parsing and roles."""

import json

import numpy as np
import pandas as pd
import pytest

from tabtext.tabular import CATEGORICAL_PARTS, DATE_PARTS, DateExpander

KNOWN = {  # date -> parts that matter, checked against a calendar
    "2015-07-31": dict(
        year=2015,
        month=7,
        week=31,
        day=31,
        dayofweek=4,
        dayofyear=212,
        is_month_end=1,
        is_quarter_end=0,  # quarters end in Mar, Jun, Sep, Dec
        is_month_start=0,
        is_year_end=0,
    ),
    "2015-01-01": dict(
        year=2015,
        week=1,
        dayofweek=3,
        dayofyear=1,
        is_year_start=1,
        is_quarter_start=1,
        is_month_start=1,
        is_month_end=0,
    ),
    "2014-12-29": dict(year=2014, week=1, dayofweek=0, dayofyear=363),  # ISO week 1
    "2015-09-30": dict(is_quarter_end=1, is_month_end=1, is_year_end=0, dayofweek=2),
    "2016-02-29": dict(month=2, dayofyear=60, is_month_end=1, dayofweek=0),
    "1970-01-02": dict(elapsed=86400.0, dayofweek=4),
}


@pytest.fixture(scope="module")
def expanded():
    X = pd.DataFrame({"d": pd.to_datetime(list(KNOWN) + [None]), "v": range(7)})
    de = DateExpander().fit(X)
    return de, de.transform(X)


def test_known_dates(expanded):
    _, out = expanded
    for row, parts in enumerate(KNOWN.values()):
        for part, value in parts.items():
            assert out[f"d_{part}"].iloc[row] == value, (row, part)


def test_nat_gives_nan_parts_and_float_dtypes(expanded):
    _, out = expanded
    parts = [f"d_{p}" for p in DATE_PARTS]
    assert out[parts].iloc[-1].isna().all()
    assert (out[parts].dtypes == np.float64).all()


def test_columns_and_roles(expanded):
    de, out = expanded
    assert list(out.columns) == ["v"] + [f"d_{p}" for p in DATE_PARTS]
    assert DateExpander.categorical_parts == CATEGORICAL_PARTS
    assert "elapsed" not in CATEGORICAL_PARTS and "dayofweek" in CATEGORICAL_PARTS
    assert de.continuous_names_ == ["d_elapsed"]
    assert len(de.categorical_names_) == 12
    back = DateExpander.from_dict(json.loads(json.dumps(de.to_dict())))
    assert back.categorical_names_ == de.categorical_names_


def test_tz_aware_and_drop_false():
    d = pd.Series(pd.to_datetime(["2015-07-31 23:30"])).dt.tz_localize("Europe/Berlin")
    out = DateExpander(parts=("day", "elapsed"), drop=False).fit_transform(
        d.to_frame("t")
    )
    assert list(out.columns) == ["t", "t_day", "t_elapsed"]
    assert out["t_day"].iloc[0] == 31  # local calendar day
    utc = pd.Timestamp("2015-07-31 21:30", tz="UTC")
    assert out["t_elapsed"].iloc[0] == utc.timestamp()


def test_string_column_parsed_and_bad_value_named():
    X = pd.DataFrame({"s": ["2015-07-31", None, "2015-08-01"]})
    out = DateExpander(date_cols=["s"], parts=("dayofweek",)).fit_transform(X)
    assert out["s_dayofweek"].tolist()[::2] == [4.0, 5.0]
    bad = pd.DataFrame({"s": ["2015-07-31", "not a date"]})
    with pytest.raises(ValueError, match="'s': cannot parse 'not a date' at row 1"):
        DateExpander(date_cols=["s"]).fit(bad)


def test_bad_params():
    X = pd.DataFrame({"n": [1, 2], "d": pd.to_datetime(["2015-01-01", "2015-01-02"])})
    with pytest.raises(TypeError, match="'n' has dtype int64"):
        DateExpander(date_cols=["n"]).fit(X)
    with pytest.raises(ValueError, match=r"\['hour'\] are not valid"):
        DateExpander(parts=("year", "hour")).fit(X)
    with pytest.raises(ValueError, match=r"\['d_year'\] already exist"):
        DateExpander(drop=False).fit(X.assign(d_year=1))
