"""Text data for ULMFiT (Howard & Ruder 2018): loading, splitting, numericalizing.

``load_texts`` reads labelled texts from a parquet/CSV file, a folder of parquet shards
or text files, a folder in the aclImdb layout, or a Hugging Face hub dataset;
``resolve_imdb`` finds the IMDB data. The validation split is :mod:`tabtext.nlp.text.splits`,
numericalizing (tokenize + map to ids, cached on disk) is
:mod:`tabtext.nlp.text.corpus`.
"""

from __future__ import annotations

import io
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .labels import Task, encode_labels, resolve_task
from .weights import read_weight_column

__all__ = [
    "TextDataset",
    "load_texts",
    "resolve_imdb",
]

logger = logging.getLogger(__name__)

_TABLE_SUFFIXES = (".parquet", ".pq", ".csv", ".tsv")
_NUM_NAME = re.compile(r"^(\d+)")


@dataclass
class TextDataset:
    """Texts with optional labels of ``task`` (see :mod:`tabtext.nlp.text.labels`):
    integer codes ``0..C-1`` with the class of each code in ``classes``, a 0/1
    matrix over the label names in ``classes`` (multilabel), or numbers
    (regression, ``classes`` empty)."""

    texts: list[str]
    labels: np.ndarray | None
    classes: list[Any]
    source: str
    task: str = "classification"
    weights: np.ndarray | None = None  # one per text (None: all 1)

    def __len__(self) -> int:
        return len(self.texts)


def load_texts(
    source: str | os.PathLike[str],
    text_col: str = "text",
    label_col: str | None = "label",
    split: str = "train",
    task: Task = "classification",
    label_sep: str = "|",
    weight_col: str | None = None,
) -> TextDataset:
    """Load labelled texts from a file, an aclImdb-style folder or the HF hub.

    Parameters
    ----------
    source : str or path
        A ``.parquet``/``.csv``/``.tsv`` file; a folder holding ``{split}.parquet``
        (or ``.csv``), or ``{split}/<class>/*.txt`` (aclImdb: ``train/pos``,
        ``train/neg``), or directly ``<class>/*.txt``; else the name of a Hugging
        Face hub dataset (e.g. ``"imdb"``), which needs a network the first time.
    text_col, label_col : str
        Column names in tables and hub datasets. ``label_col=None`` loads texts
        only (language-model corpora).
    split : str
        Which split of a folder or hub dataset.
    task : {"classification", "multilabel", "regression", "auto"}
        How to read the label column (:mod:`tabtext.nlp.text.labels`); "auto" decides
        from the values and refuses the ambiguous ones.
    label_sep : str
        Separator of several labels in one string (multilabel), e.g. ``"a|b"``.
    weight_col : str, optional
        A column of row weights (parquet or CSV tables), for the classifier's loss
        and validation scores (:mod:`tabtext.nlp.text.weights`).

    Returns
    -------
    TextDataset
        Empty texts are dropped (with a logged count); class labels are mapped to
        ``0..C-1`` in sorted order of the original values, kept in ``classes``.
    """
    raw = _load_raw(source, text_col, label_col, split)
    if raw.values is None:
        return TextDataset(raw.texts, None, [], raw.where)
    values = raw.values
    if raw.csv and task != "multilabel":  # there "" is an empty label set
        values = _csv_labels(values)
    task = resolve_task(task, values, raw.where, label_col, label_sep)
    y, classes = encode_labels(
        values, raw.rows, raw.where, label_col, task, raw.classes, label_sep
    )
    weights = None
    if weight_col is not None:
        weights = read_weight_column(Path(source).expanduser(), weight_col, raw.rows)
    return TextDataset(raw.texts, y, classes, raw.where, task, weights)


@dataclass
class _Raw:
    """Texts and the raw label value of each (None: no labels), before encoding."""

    texts: list[str]
    values: list[Any] | None
    rows: np.ndarray  # each value's row in the source, for messages
    where: str
    classes: list[Any] | None = None  # a hub ClassLabel's names
    csv: bool = False  # values are CSV cells (strings)


def _load_raw(
    source: str | os.PathLike[str], text_col: str, label_col: str | None, split: str
) -> _Raw:
    path = Path(source).expanduser()
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix in (".parquet", ".pq"):
            return _load_parquet(path, text_col, label_col)
        if suffix in (".csv", ".tsv"):
            return _load_csv(path, text_col, label_col)
        raise ValueError(
            f"{path}: unknown file type {suffix!r}; expected one of {_TABLE_SUFFIXES}"
        )
    if path.is_dir():
        return _load_folder(path, split, text_col, label_col)
    name = str(source)
    if path.suffix.lower() in _TABLE_SUFFIXES or name.startswith((".", "/", "~")):
        raise ValueError(f"{name}: no such file or folder")
    return _load_hub(name, split, text_col, label_col)


def resolve_imdb(data: str | os.PathLike[str] | None = None) -> Path | str:
    """Find the IMDB data: the first of these that exists.

    ``data`` if given; ``$TABTEXT_DATA/imdb``; ``data/imdb`` and
    ``../shared/data/imdb`` relative to the working directory; ``../shared/data/imdb``
    relative to the repository holding this package; else the hub name ``"imdb"``.
    """
    if data is not None:
        return Path(data).expanduser()
    candidates = []
    if os.environ.get("TABTEXT_DATA"):
        candidates.append(Path(os.environ["TABTEXT_DATA"]).expanduser() / "imdb")
    repo_root = Path(__file__).resolve().parents[2]
    candidates += [
        Path("data/imdb"),
        Path("../shared/data/imdb"),
        repo_root / "data" / "imdb",
        repo_root.parent / "shared" / "data" / "imdb",
    ]
    for cand in candidates:
        if cand.exists():
            logger.info("IMDB data: %s", cand.resolve())
            return cand
    logger.info("no local IMDB folder found; using the Hugging Face hub dataset 'imdb'")
    return "imdb"


# -- loaders ---------------------------------------------------------------------


def _check_columns(where: str, available: list[str], wanted: list[str]) -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        hint = " (pass label_col=None for unlabelled text)" if len(wanted) > 1 else ""
        raise ValueError(
            f"{where}: no column {', '.join(map(repr, missing))}; available columns: "
            f"{available}. Pass text_col=/label_col= with the right names{hint}."
        )


def _load_parquet(path: Path, text_col: str, label_col: str | None) -> _Raw:
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = [text_col] + ([label_col] if label_col else [])
    try:
        names = pq.read_schema(path).names
        _check_columns(str(path), names, cols)
        table = pq.read_table(path, columns=cols)
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{path}: cannot read as parquet ({err})") from err
    texts = table.column(text_col).to_pylist()
    labels = table.column(label_col).to_pylist() if label_col else None
    return _finish(texts, labels, str(path), text_col, label_col)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")  # a leading byte-order mark is not text
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        source = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "latin1"
        raise ValueError(
            f"{where}: bytes {data[err.start : err.start + 4]!r} at byte offset "
            f"{err.start} (line {line}) are not valid UTF-8; re-save the file as "
            f"UTF-8 (e.g. `iconv -f {source} -t utf-8`)."
        ) from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:  # a dangling link, no permission, ...
        raise ValueError(f"{path}: cannot read the file ({err.strerror})") from None


def _load_csv(path: Path, text_col: str, label_col: str | None) -> _Raw:
    import pandas as pd

    content = _decode(_read_bytes(path), str(path))
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with warnings.catch_warnings():
            # a row with more fields than the header: pandas would silently turn the
            # first fields into an index (index_col=None) or drop the extra ones
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                io.StringIO(content),
                sep=sep,
                dtype=str,
                keep_default_na=False,
                index_col=False,
            )
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        pd.errors.ParserWarning,
    ) as err:
        raise ValueError(f"{path}: cannot parse as CSV ({err})") from err
    cols = [text_col] + ([label_col] if label_col else [])
    _check_columns(str(path), list(df.columns), cols)
    labels = df[label_col].tolist() if label_col else None
    raw = _finish(df[text_col].tolist(), labels, str(path), text_col, label_col)
    raw.csv = True
    return raw


def _csv_labels(cells: list[str]) -> list[Any]:
    """Integer labels as ints when every value is a whole number, else the strings
    (an empty cell: None, a missing label).

    Only whole numbers that floats hold exactly (below 2**53) count: "inf" or
    "99999999999999999999999" stay strings instead of failing or wrapping around.
    """
    import pandas as pd

    as_num = pd.to_numeric(pd.Series(cells, dtype=object), errors="coerce")
    as_num = as_num.to_numpy(dtype=np.float64)
    whole = np.isfinite(as_num) & (np.abs(as_num) < 2**53)
    if whole.all() and (as_num == np.round(as_num)).all():
        return as_num.astype(np.int64).tolist()
    return [None if c == "" else c for c in cells]


def _load_folder(root: Path, split: str, text_col: str, label_col: str | None) -> _Raw:
    for suffix in (".parquet", ".csv", ".tsv"):
        table = root / f"{split}{suffix}"
        if table.is_file():
            return _load_raw(table, text_col, label_col, split)
    shards = sorted(root.glob("*.parquet"))
    if shards:  # a folder of shards (a split name may prefix them: train-00.parquet)
        named = [f for f in shards if f.name.startswith(split)]
        return _concat([_load_parquet(f, text_col, label_col) for f in named or shards])
    if label_col is None and any(_txt_files(root)):  # a corpus: one document per file
        files = sorted(_txt_files(root), key=_file_order)
        texts = [_decode(_read_bytes(f), str(f)) for f in files]
        return _finish(texts, None, str(root), text_col, None)
    class_root = root / split if (root / split).is_dir() else root
    class_dirs = sorted(
        d
        for d in class_root.iterdir()
        if d.is_dir() and d.name != "unsup" and any(_txt_files(d))
    )
    if not class_dirs:
        raise ValueError(
            f"{root}: found neither {split}.parquet/{split}.csv nor class folders of "
            f".txt files (aclImdb layout: {split}/pos/*.txt, {split}/neg/*.txt)."
        )
    texts, names = [], []
    for d in class_dirs:
        files = sorted(_txt_files(d), key=_file_order)
        for f in files:
            texts.append(_decode(_read_bytes(f), str(f)))
        names += [d.name] * len(files)
    labels = names if label_col else None
    return _finish(texts, labels, str(class_root), text_col, label_col)


def _concat(parts: list[_Raw]) -> _Raw:
    """Shards of one dataset, in order (rows numbered over all of them)."""
    where = f"{Path(parts[0].where).parent} ({len(parts)} shards)"
    texts = [t for p in parts for t in p.texts]
    if parts[0].values is None:
        return _Raw(texts, None, np.zeros(0, np.int64), where)
    values = [v for p in parts for v in p.values]
    return _Raw(texts, values, np.arange(len(values)), where)


def _txt_files(folder: Path) -> list[Path]:
    """The ``*.txt`` entries that are not folders (a dangling link is kept: it fails
    to read with a message naming it)."""
    return [f for f in folder.glob("*.txt") if not f.is_dir()]


def _file_order(path: Path) -> tuple[int, str]:
    m = _NUM_NAME.match(path.name)  # aclImdb: <id>_<rating>.txt
    return (int(m.group(1)) if m else -1, path.name)


def _load_hub(name: str, split: str, text_col: str, label_col: str | None) -> _Raw:
    try:
        import datasets

        ds = datasets.load_dataset(name, split=split)
    except Exception as err:
        raise ValueError(
            f"could not load the Hugging Face dataset {name!r} (split {split!r}): "
            f"{type(err).__name__}: {err}. This needs network access the first time; "
            "otherwise pass a local parquet/CSV file or an aclImdb folder "
            "(or set $TABTEXT_DATA to a folder holding imdb/)."
        ) from err
    where = f"hub dataset {name!r} split {split!r}"
    cols = [text_col] + ([label_col] if label_col else [])
    _check_columns(where, list(ds.column_names), cols)
    labels, classes = None, None
    if label_col:
        labels = ds[label_col]
        names = getattr(ds.features[label_col], "names", None)
        if names is not None:  # a ClassLabel: ids already index `names`
            labels = [None if x < 0 else names[x] for x in labels]
            classes = list(names)
    return _finish(ds[text_col], labels, where, text_col, label_col, classes)


def _finish(
    texts: list[Any],
    labels: list[Any] | None,
    where: str,
    text_col: str,
    label_col: str | None,
    classes: list[Any] | None = None,
) -> _Raw:
    """The non-empty texts and their labels' raw values (with their rows)."""
    clean, dropped = [], []
    for i, t in enumerate(texts):
        if isinstance(t, bytes):
            t = _decode(t, f"{where}, column {text_col!r}, row {i}")
        elif t is None or (isinstance(t, float) and np.isnan(t)):
            t = ""
        elif not isinstance(t, str):
            t = str(t)
        if t.strip():
            clean.append(t)
        else:
            dropped.append(i)
    if dropped:
        logger.warning(
            "%s: dropped %d empty text(s) in column %r (rows %s%s)",
            where,
            len(dropped),
            text_col,
            dropped[:5],
            " ..." if len(dropped) > 5 else "",
        )
    if labels is None:
        return _Raw(clean, None, np.zeros(0, np.int64), where)
    keep = np.ones(len(labels), bool)
    keep[dropped] = False
    kept = [y for y, k in zip(labels, keep) if k]
    return _Raw(clean, kept, np.flatnonzero(keep), where, classes)
