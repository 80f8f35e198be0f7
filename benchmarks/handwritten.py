"""flights.feat and heavy.feat written by hand in plain TensorFlow, as a user without
skewless would write them: the baselines of the benchmarks. Nothing here calls skewless;
analyzer constants come from the stats file's JSON (``data.constants``).

Each twin computes the same values as the spec up to float rounding: skewless computes
some functions in float64 and rounds once (zscore, minmax, mean, the exp/log family, pow),
the twins compute in float32, as a user would. ``benchmarks/bench_input_fn.py`` checks
this on one batch before timing anything."""
from __future__ import annotations

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE

# Keras TextVectorization's "lower_and_strip_punctuation": every ASCII punctuation character.
PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'

FLIGHTS_COLUMNS = {
    "carrier": tf.io.FixedLenFeature([], tf.string),
    "origin": tf.io.FixedLenFeature([], tf.string),
    "dest": tf.io.FixedLenFeature([], tf.string),
    "tailnum": tf.io.FixedLenFeature([], tf.string, ""),
    "distance": tf.io.FixedLenFeature([], tf.int64),
    "sched_dep_time": tf.io.FixedLenFeature([], tf.int64),
    "dep_delay": tf.io.FixedLenFeature([], tf.float32, 0.0),
    "tags": tf.io.RaggedFeature(tf.string, row_splits_dtype=tf.int64),
    "position": tf.io.FixedLenFeature([2], tf.float32),
}
FLIGHTS_TRAINING_COLUMNS = {
    **FLIGHTS_COLUMNS,
    "arr_delay": tf.io.FixedLenFeature([], tf.float32),
    "importance": tf.io.FixedLenFeature([], tf.float32, 1.0),
}


class Twin:
    """A hand-written spec: ``features(raw)``, ``targets(raw)`` (None without targets) and
    ``weight(raw)`` (None without a weight) over the columns of ``training_spec`` /
    ``serving_spec``."""

    training_spec: dict
    serving_spec: dict

    def features(self, raw: dict) -> dict:
        raise NotImplementedError

    def targets(self, raw: dict):
        return {}

    def weight(self, raw: dict):
        return None

    def parse_training(self, serialized):
        """A batch of serialized records -> the elements input_fn gives."""
        raw = tf.io.parse_example(serialized, self.training_spec)
        weight = self.weight(raw)
        outputs = (self.features(raw), self.targets(raw))
        return outputs if weight is None else (*outputs, weight)

    def input_fn(self, files: list, batch_size: int) -> tf.data.Dataset:
        """The training pipeline: read, batch, parse and transform in parallel, prefetch."""
        return (tf.data.TFRecordDataset(files).batch(batch_size)
                .map(self.parse_training, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE))

    def serving_function(self):
        """The serving receiver: serialized tf.Examples [batch] -> features."""

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def receive(serialized):
            return self.features(tf.io.parse_example(serialized, self.serving_spec))

        return receive


def vocabulary_table(tokens: list, oov_buckets: int = 1):
    keys = tf.constant(tokens)
    init = tf.lookup.KeyValueTensorInitializer(keys, tf.range(tf.size(keys, tf.int64)))
    return tf.lookup.StaticVocabularyTable(init, oov_buckets)


def bucketize(x, boundaries: list):
    return tf.cast(tf.raw_ops.Bucketize(input=x, boundaries=boundaries), tf.int64)


def fill_nan(x, value):
    return tf.where(tf.math.is_nan(x), tf.constant(value, x.dtype), x)


class Flights(Twin):
    """examples/flights/flights.feat."""

    training_spec, serving_spec = FLIGHTS_TRAINING_COLUMNS, FLIGHTS_COLUMNS

    def __init__(self, constants: dict):
        self.mean = constants["distance_z/zscore"]["mean"]
        self.std = constants["distance_z/zscore"]["std"]
        self.boundaries = [float(b) for b in constants["dep_q/bucketize"]["boundaries"]]
        self.carriers = vocabulary_table(constants["carrier_id/vocab"]["vocabulary"])
        self.dests = vocabulary_table(constants["dest_id/vocab"]["vocabulary"])

    def features(self, raw):
        hour = raw["sched_dep_time"] // 100
        delay = tf.clip_by_value(fill_nan(raw["dep_delay"], 0.0), 0.0, 1000.0)
        tags = tf.ragged.map_flat_values(tf.strings.to_hash_bucket_fast, raw["tags"], 64)
        route = tf.sparse.cross_hashed(
            [tf.expand_dims(raw["origin"], 1), tf.expand_dims(raw["dest"], 1)], 512)
        return {
            "distance_z": (tf.cast(raw["distance"], tf.float32) - self.mean) / self.std,
            "delay_log": tf.math.log1p(delay),
            "carrier_id": self.carriers.lookup(raw["carrier"]),
            "dest_id": self.dests.lookup(tf.strings.lower(raw["dest"], encoding="utf-8")),
            "tail_bucket": tf.strings.to_hash_bucket_fast(raw["tailnum"], 1000),
            "hour_bucket": bucketize(hour, [6.0, 12.0, 18.0]),
            "dep_q": bucketize(raw["sched_dep_time"], self.boundaries),
            "route": tf.squeeze(tf.sparse.to_dense(route), 1),
            "tag_ids": tags.to_tensor(default_value=-1, shape=[None, 4]),
            "carrier": raw["carrier"],
        }

    def targets(self, raw):
        return {"late": tf.cast(raw["arr_delay"] > 15, tf.int64), "delay": raw["arr_delay"]}

    def weight(self, raw):
        return raw["importance"]


class Heavy(Twin):
    """benchmarks/heavy.feat."""

    training_spec = serving_spec = FLIGHTS_COLUMNS

    def __init__(self, constants: dict):
        self.distance = constants["distance_z/zscore"]
        self.dep = constants["dep_z/zscore"]
        self.delay = constants["delay_scaled/minmax"]

    def features(self, raw):
        distance = tf.cast(raw["distance"], tf.float32)
        delay = tf.clip_by_value(fill_nan(raw["dep_delay"], 0.0), -20.0, 600.0)
        radians = raw["position"] * 0.017453292
        low, high = self.delay["min"], self.delay["max"]
        tailnum, dest = raw["tailnum"], raw["dest"]
        digits = tf.strings.regex_replace(tailnum, "[^0-9]", "")
        tail_length = tf.strings.length(tailnum, unit="UTF8_CHAR")
        # substr fails for a position past the end (an empty tailnum): clamp it
        middle = tf.strings.substr(tailnum, tf.minimum(tail_length, 1),
                                   tf.fill(tf.shape(tail_length), 3), unit="UTF8_CHAR")
        tags = raw["tags"]
        words = tf.strings.split(tf.strings.regex_replace(
            tf.strings.lower(tags, encoding="utf-8"), PUNCTUATION, "")).merge_dims(1, 2)
        parts = tf.strings.split(tags, sep="-").merge_dims(1, 2)
        tag_count = tags.row_lengths()
        tag_chars = tf.reduce_sum(tf.strings.length(tags, unit="UTF8_CHAR"), axis=1)
        return {
            "distance_log": tf.math.log(distance),
            "distance_sqrt": tf.math.sqrt(distance),
            "distance_pow": tf.math.pow(distance, 0.75),
            "distance_z": (tf.math.log1p(distance) - self.distance["mean"]) / self.distance["std"],
            "delay_exp": tf.math.exp(delay / 100.0),
            "delay_log1p": tf.math.log1p(tf.clip_by_value(delay, 0.0, 600.0)),
            "delay_scaled": (delay - low) / (high - low),
            "position_sin": tf.math.sin(radians),
            "position_cos": tf.math.cos(radians),
            "dep_z": (tf.cast(raw["sched_dep_time"], tf.float32) - self.dep["mean"])
            / self.dep["std"],
            "dep_hash": tf.strings.to_hash_bucket_fast(
                tf.strings.as_string(raw["sched_dep_time"]), 100),
            "carrier_hash": tf.strings.to_hash_bucket_fast(
                tf.strings.strip(tf.strings.lower(raw["carrier"], encoding="utf-8")), 64),
            "dest_hash": tf.strings.to_hash_bucket_fast(
                tf.strings.strip(tf.strings.upper(dest, encoding="utf-8")), 128),
            "tail_prefix": tf.strings.to_hash_bucket_fast(
                tf.strings.substr(tailnum, 0, 4, unit="UTF8_CHAR"), 500),
            "tail_number": tf.strings.to_number(
                tf.where(tf.equal(digits, ""), "-1", digits), tf.int64),
            "tail_log": tf.math.log1p(tf.strings.to_number(
                tf.where(tf.equal(middle, ""), "0", middle), tf.float32)),
            "tail_length": tf.cast(tail_length, tf.int64),
            "route_hash": tf.strings.to_hash_bucket_fast(tf.strings.join(
                [raw["origin"], tf.strings.lower(dest, encoding="utf-8")], separator="-"), 2048),
            "tag_words": tf.strings.to_hash_bucket_fast(words, 64)
            .to_tensor(default_value=-1, shape=[None, 6]),
            "tag_parts": tf.strings.to_hash_bucket_fast(parts, 64)
            .to_tensor(default_value=-1, shape=[None, 6]),
            "tag_length": tf.where(
                tag_count > 0,
                tf.cast(tag_chars, tf.float32) / tf.cast(tf.maximum(tag_count, 1), tf.float32),
                0.0),
        }


TWINS = {"flights": Flights, "heavy": Heavy}
