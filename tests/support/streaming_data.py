"""Small Parquet/CSV data sets for the streaming, distributed and checkpoint tests."""

import itertools

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from support.synthetic import make_classification_data

LABELS = np.array(["ant", "bee", "cat"])


def make_table(n=503, d=4, n_classes=2, seed=0):
    """Features f0.., text labels in ``y``, weights in ``w``; also the arrays for the in-memory fit."""
    X, y, sw = make_classification_data(n=n, d=d, n_classes=n_classes, seed=seed, weights=True)
    labels = LABELS[y]
    table = pa.table({**{f"f{j}": X[:, j] for j in range(d)}, "y": labels, "w": sw})
    return table, X, labels, sw


def write_parquet_files(folder, table, splits=(0.45,), row_group_size=64):
    """``table`` split into several Parquet files of several row groups each; returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    cuts = [0, *(int(s * table.num_rows) for s in splits), table.num_rows]
    paths = []
    for i, (a, b) in enumerate(itertools.pairwise(cuts)):
        path = folder / f"part-{i}.parquet"
        pq.write_table(table.slice(a, b - a), path, row_group_size=row_group_size + 7 * i)
        paths.append(path)
    return paths


def write_csv_file(path, table):
    pcsv.write_csv(table, path)
    return path
