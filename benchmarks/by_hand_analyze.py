"""flights.feat's analyzer statistics computed by hand, as a user without skewless would:
parse the four columns with tf.io.parse_example, keep them in memory, then numpy: mean and
population std of distance, the vocabulary of carrier, the top 50 of lowercased dest (by
descending count, ties by ascending bytes) and 10 quantile buckets of sched_dep_time.
The baseline of the analysis benchmark, run as a fresh process.

    python benchmarks/by_hand_analyze.py FILE... [--json]
"""
from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

COLUMNS = {
    "distance": tf.io.FixedLenFeature([], tf.int64),
    "carrier": tf.io.FixedLenFeature([], tf.string),
    "dest": tf.io.FixedLenFeature([], tf.string),
    "sched_dep_time": tf.io.FixedLenFeature([], tf.int64),
}


def read_columns(files: list) -> dict:
    parts = {key: [] for key in COLUMNS}
    dataset = (tf.data.TFRecordDataset(files).batch(4096)
               .map(lambda records: tf.io.parse_example(records, COLUMNS),
                    num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    for batch in dataset.as_numpy_iterator():
        for key, value in batch.items():
            parts[key].append(value)
    return {key: np.concatenate(values) for key, values in parts.items()}


def ordered(tokens: np.ndarray, counts: np.ndarray) -> list:
    """Tokens by descending count, ties by ascending bytes."""
    return [tokens[i] for i in np.lexsort((tokens, -counts))]


def vocabulary(values: np.ndarray, lower: bool = False, top_k=None) -> list:
    tokens, counts = np.unique(values.astype("S"), return_counts=True)
    if lower:  # lowercase the distinct tokens only, then add up their counts
        lowered = np.array([t.decode("utf-8").lower().encode("utf-8") for t in tokens], "S")
        tokens, where = np.unique(lowered, return_inverse=True)
        counts = np.bincount(where, weights=counts).astype(np.int64)
    return [t.decode("utf-8") for t in ordered(tokens, counts)][:top_k]


def statistics(columns: dict, top_k: int = 50, quantiles: int = 10) -> dict:
    distance = columns["distance"].astype(np.float64)
    levels = np.arange(1, quantiles) / quantiles
    boundaries = np.quantile(columns["sched_dep_time"], levels, method="inverted_cdf")
    return {
        "distance_z/zscore": {"mean": float(distance.mean()), "std": float(distance.std())},
        "carrier_id/vocab": {"vocabulary": vocabulary(columns["carrier"])},
        "dest_id/vocab": {"vocabulary": vocabulary(columns["dest"], lower=True, top_k=top_k)},
        "dep_q/bucketize": {"boundaries": sorted(set(int(b) for b in boundaries))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--json", action="store_true", help="print the statistics as JSON")
    args = parser.parse_args()
    result = statistics(read_columns(args.files))
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
