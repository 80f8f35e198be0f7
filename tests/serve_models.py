"""Small SavedModels for the server's tests, built with TensorFlow alone (no skewless
export), so that the server is tested on what any exporter may write.

Version ``v`` of the "flights" model scores ``z = distance / 100 * v + hour - (carrier ==
"AA")`` — each version answers differently, so a test can tell which one answered."""
from __future__ import annotations

import os
import tempfile

import tensorflow as tf

from skewless.export import read_saved_model, set_method_names

CLASS_NAMES = ("on_time", "late")
SPEC = {
    "distance": tf.io.FixedLenFeature([], tf.float32),
    "hour": tf.io.FixedLenFeature([], tf.int64, default_value=0),
    "carrier": tf.io.FixedLenFeature([], tf.string, default_value=""),
}
MANY_OUTPUTS = ("h", "c", "f", "a", "g", "b", "e", "d")
METHODS = {"classify": tf.saved_model.CLASSIFY_METHOD_NAME,
           "regress": tf.saved_model.REGRESS_METHOD_NAME}


class FlightsModel(tf.Module):
    def __init__(self, version: int):
        super().__init__()
        self.weight = tf.Variable(float(version))

    def _z(self, distance, hour, carrier):
        return (distance / 100.0 * self.weight + tf.cast(hour, tf.float32)
                - tf.cast(tf.equal(carrier, "AA"), tf.float32))

    def _z_of_examples(self, serialized):
        parsed = tf.io.parse_example(serialized, SPEC)
        return self._z(parsed["distance"], parsed["hour"], parsed["carrier"])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def classify(self, inputs):
        late = tf.sigmoid(self._z_of_examples(inputs))
        scores = tf.stack([1.0 - late, late], axis=1)
        classes = tf.tile(tf.constant([CLASS_NAMES]), [tf.shape(scores)[0], 1])
        return {"classes": classes, "scores": scores}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def regress(self, inputs):
        return {"outputs": self._z_of_examples(inputs)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.int64),
                                  tf.TensorSpec([None], tf.string)])
    def predict(self, distance, hour, carrier):
        return {"z": self._z(distance, hour, carrier),
                "carrier_length": tf.cast(tf.strings.length(carrier), tf.int64)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def predict_examples(self, examples):
        return {"z": self._z_of_examples(examples)}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def double(self, x):
        return {"y": 2.0 * x}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def many(self, x):
        """Eight outputs, ``x + i`` named MANY_OUTPUTS[i] (not in the order of their names)."""
        return {name: x + float(number) for number, name in enumerate(MANY_OUTPUTS)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def echo(self, data):
        return {"data_bytes": data, "length": tf.cast(tf.strings.length(data), tf.int64)}


def write_flights_version(base: str, version: int) -> str:
    """``base/<version>/``, appearing at once (written aside, then renamed)."""
    os.makedirs(base, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".tmp-", dir=base)
    model = FlightsModel(version)
    signatures = {"serving_default": model.predict, "classify": model.classify,
                  "regress": model.regress, "predict": model.predict,
                  "predict_examples": model.predict_examples, "double": model.double,
                  "echo": model.echo, "many": model.many}
    tf.saved_model.save(model, staging, signatures=signatures)
    set_method_names(staging, read_saved_model(staging), METHODS)
    path = os.path.join(base, str(version))
    os.rename(staging, path)
    return path


def expected_z(version: int, distance: float, hour: int = 0, carrier: str = "") -> float:
    """The model's score, computed here in plain Python."""
    return distance / 100.0 * version + hour - (1.0 if carrier == "AA" else 0.0)
