"""The bundled example end to end: make the data, compile flights.feat, then show what
training receives and what serving returns for the same records.

    python examples/flights/demo.py [--out DIR]

It runs the ``skewless`` command exactly as a user would, imports the generated module,
and prints the first records three ways: through the training ``input_fn``, through the
Classify/Regress receiver (serialized tf.Examples, labels removed) and through the Predict
receiver (raw tensors)."""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
SPEC = HERE / "flights.feat"
SHOWN = 3


def run(*command: str) -> None:
    print("$", " ".join(["skewless", *command[3:]]))
    status = subprocess.run(command).returncode
    if status:
        sys.exit(status)


def import_module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "data"),
                        help="where to write the data and the module (default: %(default)s)")
    data = Path(parser.parse_args(argv).out)
    module_path = data / "flights_features.py"
    from skewless.lazy import import_tensorflow_quietly

    import_tensorflow_quietly()
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, str(HERE))
    from make_data import write_dataset

    written = write_dataset(data)
    print(f"wrote {len(written)} TFRecord files of synthetic flights to {data}")
    pattern = str(data / "train-*.tfrecord")
    run(sys.executable, "-m", "skewless", "compile", str(SPEC), "--data", pattern,
        "-o", str(module_path))

    flights = import_module(module_path)
    features, targets, weights = next(iter(
        flights.input_fn(pattern, batch_size=SHOWN, shuffle=False)))

    first_file = sorted(data.glob("train-*.tfrecord"))[0]
    serialized = [r.numpy() for r in tf.data.TFRecordDataset(str(first_file)).take(SHOWN)]
    without_labels = [_strip(record, flights.LABEL_KEYS + (flights.WEIGHT_KEY,)) for record in serialized]
    served = flights.serving_input_receiver_fn()(tf.constant(without_labels))
    raw = tf.io.parse_example(tf.constant(without_labels), flights.SERVING_FEATURE_SPEC)
    predicted = flights.raw_serving_input_receiver_fn()(raw)

    np.set_printoptions(precision=4, suppress=True)
    print(f"\nspec fingerprint {flights.SPEC_FINGERPRINT}; first {SHOWN} training records\n")
    print(f"{'feature':<14} {'training input_fn':<40} {'serving (tf.Example)':<40} same")
    all_same = True
    for key in flights.FEATURE_KEYS:
        train, serve, pred = (t[key].numpy() for t in (features, served, predicted))
        same = _bits(train) == _bits(serve) == _bits(pred)
        all_same &= same
        print(f"{key:<14} {_show(train):<40} {_show(serve):<40} {'yes' if same else 'NO'}")
    print("\ntargets:", {k: _show(v.numpy()) for k, v in targets.items()})
    print("weights:", _show(weights.numpy()))
    return 0 if all_same else 1


def _strip(serialized: bytes, keys) -> bytes:
    import tensorflow as tf

    example = tf.train.Example.FromString(serialized)
    for key in keys:
        if key in example.features.feature:
            del example.features.feature[key]
    return example.SerializeToString()


def _bits(array):
    """What "the same tensor" means here: equal bytes (NaN where NaN, -0.0 is not 0.0)."""
    return array.tolist() if array.dtype == object else (array.shape, array.tobytes())


def _show(array) -> str:
    text = str(array.tolist())
    return text if len(text) <= 40 else text[:37] + "..."


if __name__ == "__main__":
    sys.exit(main())
