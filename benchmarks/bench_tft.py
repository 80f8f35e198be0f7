"""Analysis against tf.Transform, when ``tensorflow_transform`` is importable (otherwise
skipped): skewless's local engine against tf.Transform's ``AnalyzeDataset`` over the same
files, computing flights.feat's analyzers (mean and variance of distance, the vocabulary of
carrier, the top 50 of lowercased dest, 10 quantile buckets of sched_dep_time), in
alternating rounds in this process. Beam's DirectRunner, in process, one worker; the time
includes building and tracing the pipeline, as the local engine's includes its own set-up.

tf.Transform is never a dependency of skewless or of its tests: each release pins one minor
version of TensorFlow, and through tfx-bsl one of tensorflow-serving-api, so it runs in a
venv of its own (see benchmarks/README.md)."""
from __future__ import annotations

import sys
import tempfile

import tensorflow as tf

import skewless
from data import FLIGHTS_SPEC, flights_data
from timing import alternate, comparison, in_process

COLUMNS = {
    "distance": tf.io.FixedLenFeature([], tf.int64),
    "carrier": tf.io.FixedLenFeature([], tf.string),
    "dest": tf.io.FixedLenFeature([], tf.string),
    "sched_dep_time": tf.io.FixedLenFeature([], tf.int64),
}


def tft_analyze(pattern: str) -> None:
    import apache_beam as beam
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import schema_utils
    from tfx_bsl.public import tfxio

    def preprocessing_fn(inputs):
        return {
            "distance_z": tft.scale_to_z_score(tf.cast(inputs["distance"], tf.float32)),
            "carrier_id": tft.compute_and_apply_vocabulary(inputs["carrier"],
                                                           num_oov_buckets=1),
            "dest_id": tft.compute_and_apply_vocabulary(
                tf.strings.lower(inputs["dest"], encoding="utf-8"), top_k=50,
                num_oov_buckets=1),
            "dep_q": tft.bucketize(inputs["sched_dep_time"], num_buckets=10),
        }

    options = beam.options.pipeline_options.PipelineOptions(  # flags=[]: not our sys.argv
        flags=[], runner="DirectRunner", direct_running_mode="in_memory", direct_num_workers=1)
    with tempfile.TemporaryDirectory() as temp_dir:
        source = tfxio.TFExampleRecord(
            file_pattern=pattern, schema=schema_utils.schema_from_feature_spec(COLUMNS))
        with beam.Pipeline(options=options) as pipeline, tft_beam.Context(temp_dir=temp_dir):
            raw = pipeline | "Read" >> source.BeamSource()
            _ = (raw, source.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(preprocessing_fn)


def tft_version():
    """tf.Transform's version when it can be imported, else None."""
    try:
        import tensorflow_transform
        import tensorflow_transform.beam  # noqa: F401
    except Exception as error:  # not installed, or installed against another TensorFlow
        if not isinstance(error, ModuleNotFoundError):
            print(f"  tensorflow_transform is installed but failed to import: {error!r}",
                  file=sys.stderr)
        return None
    return tensorflow_transform.__version__


def run(settings) -> list:
    version = tft_version()
    if version is None:
        print("  skipped: tensorflow_transform is not importable")
        return []
    from skewless.analyze import analyze

    pattern = flights_data(settings.rows)
    graph = skewless.check_file(str(FLIGHTS_SPEC))
    samples = alternate({
        "skewless": in_process(lambda: analyze(graph, pattern, progress=False)),
        "tft": in_process(lambda: tft_analyze(pattern)),
    }, settings.rounds)
    return [comparison(f"analysis of flights.feat, {settings.rows:,} rows, in process",
                       samples["skewless"], samples["tft"], ours_label="skewless local engine",
                       theirs_label=f"tf.Transform {version} AnalyzeDataset",
                       work=settings.rows, rate_unit="rows/s", target="(reported)")]
