"""From spec to TF Serving: compile flights.feat, train a small two-headed Keras model with
the generated ``input_fn``, export it with ``skewless.export_saved_model``, then load the
SavedModel with TensorFlow alone and classify and regress the serving records.

    python examples/flights/export.py [--out DIR]

Everything is written under DIR (default: a new temporary directory): the data, the
generated module, and the versioned SavedModels in DIR/models, ready for
``tensorflow_model_server --model_base_path=DIR/models`` or ``skewless serve``. The
signatures are described in docs/usage.md ("Exporting for TF Serving")."""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
SPEC = HERE / "flights.feat"
SHOWN = 5


def output_folder(argv, description: str, prefix: str) -> Path:
    """The ``--out`` folder of an example script (default: a new temporary directory)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", help="where to write data, module and models "
                                      "(default: a new temporary directory)")
    return Path(parser.parse_args(argv).out or tempfile.mkdtemp(prefix=prefix))


def main(argv=None) -> None:
    out = output_folder(argv, __doc__.splitlines()[0], "flights-export-")
    flights, model, path = train_and_export(out)
    import tensorflow as tf

    print(f"exported {path}")
    print("  signatures: late (classify, also serving_default), delay (regress)")
    print(f"  inspect:    saved_model_cli show --all --dir {path}")

    records = [r.numpy() for r in
               tf.data.TFRecordDataset(str(out / "data" / "serve.tfrecord")).take(SHOWN)]
    served = tf.saved_model.load(path)
    classified = served.signatures["late"](inputs=tf.constant(records))
    regressed = served.signatures["delay"](inputs=tf.constant(records))
    in_process = model(flights.serving_input_receiver_fn()(tf.constant(records)))

    print(f"\nfirst {SHOWN} serving records, SavedModel vs the in-process model:")
    print(f"{'P(late)':>10} {'in process':>11} {'delay':>9} {'in process':>11}")
    for i in range(SHOWN):
        print(f"{classified['scores'][i, 1]:>10.4f} {in_process['late'][i, 0]:>11.4f} "
              f"{regressed['outputs'][i]:>9.2f} {in_process['delay'][i, 0]:>11.2f}")


def train_and_export(out: Path):
    """Make the data, compile the spec, train the model and export it under ``out``;
    returns the generated module, the model and the exported version's path."""
    from skewless.lazy import import_tensorflow_quietly

    import_tensorflow_quietly()
    import skewless

    sys.path.insert(0, str(HERE))
    from make_data import write_dataset

    write_dataset(out / "data")
    train = str(out / "data" / "train-*.tfrecord")
    module = out / "flights_features.py"
    compiled = subprocess.run([sys.executable, "-m", "skewless", "compile", str(SPEC),
                               "--data", train, "-o", str(module)])
    if compiled.returncode:
        sys.exit(compiled.returncode)
    flights = import_module(module)

    model = build_model(flights)
    data = flights.input_fn(train, batch_size=128, num_epochs=2, seed=0)
    with warnings.catch_warnings():  # Keras notes the end of a dataset of unknown length
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(data.map(per_output_weights), shuffle=False, verbose=0)  # input_fn shuffles

    path = skewless.export_saved_model(model, flights, out / "models", heads={
        "late": skewless.ClassificationHead(output="late", class_names=["on_time", "late"]),
        "delay": skewless.RegressionHead(output="delay"),
    })
    return flights, model, path


def build_model(flights):
    """Numeric features and a few embedded categorical ids, two outputs: the probability
    that a flight is late, and its arrival delay."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = flights.keras_inputs()
    numeric = [keras.ops.expand_dims(inputs[name], -1)
               for name in ("distance_z", "delay_log")]
    embedded = [keras.layers.Flatten()(keras.layers.Embedding(size, 4)(inputs[name]))
                for name, size in (("carrier_id", 16), ("hour_bucket", 4), ("dep_q", 10))]
    hidden = keras.layers.Dense(16, activation="relu")(
        keras.layers.Concatenate()(numeric + embedded))
    model = keras.Model(inputs, {
        "late": keras.layers.Dense(1, activation="sigmoid")(hidden),
        "delay": keras.layers.Dense(1)(hidden),
    })
    model.compile("adam", {"late": "binary_crossentropy", "delay": "mse"})
    return model


def per_output_weights(features, targets, weights):
    """input_fn's batches, with the example weight given to each output."""
    return features, targets, {name: weights for name in targets}


def import_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    main()
