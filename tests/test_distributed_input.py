"""input_fn under tf.distribute: every input pipeline reads its share of the data (whole files
when there are at least as many files as pipelines, else every n-th record of each file), so
the pipelines together read every record exactly once; batches hold the per-replica batch
size; epochs and the last, smaller batch behave per pipeline as without sharding; the
generated module's input_fn is skewless.load's; a Keras model trains under MirroredStrategy
on two logical CPUs from distribute_datasets_from_function (in a process of its own: logical
devices must be set before TensorFlow runs anything). Records are numbered by hand (x = the
record's position in the sorted files), so every expected value is known."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import tensorflow as tf
from hypothesis import given, settings, strategies as st

import skewless
from property_budget import BUDGET, count
from skewless_test_helpers import REPO, compile_both, example, write_records

SPEC = """\
spec sharded
input x: float32
label y: float32
feature x2 = x * 2
target y = y
"""

pytestmark = pytest.mark.usefixtures("quiet_tensorflow")


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "sharded.feat"
    path.write_text(SPEC, encoding="utf-8")
    return skewless.load(str(path))


def write_files(folder: Path, counts, kind: str = "tfrecord") -> list[list[int]]:
    """Files part-00, part-01, … (TFRecord or CSV) holding counts[i] records each, x
    numbering the records 0, 1, … in file order; returns each file's x values."""
    files, start = [], 0
    for number, size in enumerate(counts):
        values = list(range(start, start + size))
        path = folder / f"part-{number:02d}.{kind}"
        if kind == "csv":
            path.write_text("x,y\n" + "".join(f"{v},0\n" for v in values), encoding="utf-8")
        else:
            write_records(path, [example(x=float(v), y=0.0) for v in values])
        files.append(values)
        start += size
    return files


def expected_share(files: list[list[int]], pipelines: int, pipeline: int) -> list[int]:
    """The x values pipeline reads, in order (shuffle=False): its files, or its records."""
    if len(files) >= pipelines:
        return [v for f in files[pipeline::pipelines] for v in f]
    return [v for f in files for v in f[pipeline::pipelines]]


def batches(features, pattern, pipelines: int, pipeline: int, replicas: int,
            per_replica: int, **options) -> list[list[int]]:
    context = tf.distribute.InputContext(pipelines, pipeline, replicas)
    dataset = features.input_fn(pattern, batch_size=per_replica * replicas,
                                input_context=context, **options)
    return [[int(v) // 2 for v in batch[0]["x2"].numpy()] for batch in dataset]


def check_batch_sizes(got: list[list[int]], per_replica: int) -> None:
    """Every batch holds per_replica records but the last, which holds 1 to per_replica."""
    assert all(len(batch) == per_replica for batch in got[:-1]), got
    assert not got or 1 <= len(got[-1]) <= per_replica, got


# each case builds and reads a dataset per pipeline: a third of the profile's examples
@settings(max_examples=max(8, BUDGET.max_examples // 3))
@given(counts=st.lists(st.integers(0, 9), min_size=1, max_size=7).filter(any),
       pipelines=st.integers(1, 6), replicas=st.integers(1, 3), per_replica=st.integers(1, 5),
       shuffle=st.booleans(), kind=st.sampled_from(["tfrecord", "csv"]))
def test_every_record_is_read_by_exactly_one_pipeline(features, counts, pipelines, replicas,
                                                      per_replica, shuffle, kind):
    with tempfile.TemporaryDirectory() as folder:
        files = write_files(Path(folder), counts, kind)
        seen = []
        for pipeline in range(pipelines):
            got = batches(features, os.path.join(folder, "part-*"), pipelines, pipeline,
                          replicas, per_replica, shuffle=shuffle)
            check_batch_sizes(got, per_replica)
            flat = [v for batch in got for v in batch]
            share = expected_share(files, pipelines, pipeline)
            assert (flat if not shuffle else sorted(flat)) == share, (pipeline, got)
            seen += flat
    assert sorted(seen) == list(range(sum(counts)))
    count("sharded input_fn", 1)


@pytest.mark.parametrize("counts, pipelines, shares", [
    # more files than pipelines: whole files, every pipeline-th one
    ([4, 3, 5], 2, [[0, 1, 2, 3, 7, 8, 9, 10, 11], [4, 5, 6]]),
    # as many: a file each
    ([4, 3, 5], 3, [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9, 10, 11]]),
    # fewer: every pipeline-th record of each file, counted from each file's first
    ([4, 3, 5], 4, [[0, 4, 7, 11], [1, 5, 8], [2, 6, 9], [3, 10]]),
    # a pipeline whose files are all empty reads nothing; the data set is not empty
    ([2, 0, 3, 0], 2, [[0, 1, 2, 3, 4], []]),
])
@pytest.mark.parametrize("kind", ["tfrecord", "csv"])
def test_shares_by_file_and_by_record(features, tmp_path, counts, pipelines, shares, kind):
    write_files(tmp_path, counts, kind)
    got = [[v for batch in batches(features, str(tmp_path / "part-*"), pipelines, p, 1, 2,
                                   shuffle=False) for v in batch] for p in range(pipelines)]
    assert got == shares


def test_epochs_and_the_last_batch_per_pipeline(features, tmp_path):
    """As without sharding: epochs follow each other within a pipeline's batches, and only
    the pipeline's last batch may be smaller; num_epochs=None repeats its share forever."""
    write_files(tmp_path, [4, 3, 5])
    pattern = str(tmp_path / "part-*")
    got = batches(features, pattern, 2, 1, 2, 2, shuffle=False, num_epochs=2)
    assert got == [[4, 5], [6, 4], [5, 6]]
    got = batches(features, pattern, 4, 3, 1, 3, shuffle=False, num_epochs=3)
    assert got == [[3, 10, 3], [10, 3, 10]]
    context = tf.distribute.InputContext(2, 0, 1)
    forever = features.input_fn(pattern, batch_size=4, shuffle=False, num_epochs=None,
                                input_context=context)
    got = [[int(v) // 2 for v in batch[0]["x2"].numpy()] for batch in forever.take(4)]
    assert got == [[0, 1, 2, 3], [7, 8, 9, 10], [11, 0, 1, 2], [3, 7, 8, 9]]
    shuffled = batches(features, pattern, 4, 1, 1, 2, shuffle=True, seed=0, num_epochs=2)
    assert sorted(v for b in shuffled for v in b) == [1, 1, 5, 5, 8, 8]
    check_batch_sizes(shuffled, 2)


def test_batch_size_is_the_global_batch_size(features, tmp_path):
    write_files(tmp_path, [6])
    context = tf.distribute.InputContext(1, 0, num_replicas_in_sync=3)
    dataset = features.input_fn(str(tmp_path / "part-*"), batch_size=6, shuffle=False,
                                input_context=context)
    assert [len(b[0]["x2"]) for b in dataset] == [2, 2, 2]
    with pytest.raises(ValueError, match="divisible"):
        features.input_fn(str(tmp_path / "part-*"), batch_size=7, input_context=context)


def test_a_record_shard_still_names_the_record_of_a_parse_error(features, tmp_path):
    """Records left to another pipeline are still read and checked; a record this pipeline
    keeps and cannot parse is named by its number in its file."""
    write_records(tmp_path / "part-0.tfrecord",
                  [example(x=0.0, y=0.0), example(x=1.0, y=0.0), example(y=0.0)])
    context = tf.distribute.InputContext(2, 0, 1)
    dataset = features.input_fn(str(tmp_path / "part-*"), batch_size=4, shuffle=False,
                                input_context=context)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"part-0\.tfrecord: record 2, Feature: x"):
        list(dataset)


def test_a_record_shard_still_finds_a_file_cut_short(features, tmp_path):
    """The file is read and its bytes counted whole, whichever records the pipeline keeps."""
    path = Path(write_records(tmp_path / "part-0.tfrecord",
                              [example(x=float(i), y=0.0) for i in range(5)]))
    path.write_bytes(path.read_bytes()[:-3])  # inside the last record's data CRC
    for pipeline in range(3):
        context = tf.distribute.InputContext(3, pipeline, 1)
        dataset = features.input_fn(str(path), batch_size=2, shuffle=False,
                                    input_context=context)
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=r"part-0\.tfrecord: cannot read record 4 \(at byte \d+\)"):
            list(dataset)


def test_the_generated_module_shards_as_load_does(tmp_path):
    loaded, module = compile_both(SPEC, tmp_path, "sharded_features")
    write_files(tmp_path, [3, 5])
    for pipelines in (1, 2, 3):
        for pipeline in range(pipelines):
            shares = [batches(f, str(tmp_path / "part-*"), pipelines, pipeline, 2, 2,
                              shuffle=False) for f in (loaded, module)]
            assert shares[0] == shares[1]


MIRRORED = textwrap.dedent("""\
    import json, sys
    import tensorflow as tf
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
    import keras
    import skewless
    from skewless_test_helpers import example, write_records

    spec, folder = sys.argv[1], sys.argv[2]
    ff = skewless.load(spec)
    # 9 records in 2 files, y = 3x: with a global batch of 4, the last step has 1 record
    write_records(folder + "/part-0.tfrecord",
                  [example(x=float(i), y=3.0 * i) for i in range(5)])
    write_records(folder + "/part-1.tfrecord",
                  [example(x=float(i), y=3.0 * i) for i in range(5, 9)])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    contexts = []

    def dataset_fn(context, num_epochs=1):
        contexts.append((context.num_input_pipelines, context.input_pipeline_id,
                         context.num_replicas_in_sync))
        return ff.input_fn(folder + "/part-*", batch_size=4, shuffle=False,
                           num_epochs=num_epochs, input_context=context)

    steps = []
    for features, targets in strategy.distribute_datasets_from_function(dataset_fn):
        steps.append([[int(v) // 2 for v in part.numpy()]
                      for part in strategy.experimental_local_results(features["x2"])])

    keras.utils.set_random_seed(0)
    with strategy.scope():
        inputs = ff.keras_inputs()
        output = keras.layers.Reshape(())(keras.layers.Dense(1)(
            keras.layers.Reshape((1,))(inputs["x2"])))
        model = keras.Model(inputs, {"y": output})
        model.compile(optimizer=keras.optimizers.SGD(0.001), loss={"y": "mse"})
    # repeated, so that no step leaves a replica without records (see docs/usage.md)
    forever = strategy.distribute_datasets_from_function(lambda c: dataset_fn(c, None))
    history = model.fit(forever, epochs=3, steps_per_epoch=2, verbose=0)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "contexts": contexts,
                      "steps": steps, "loss": history.history["loss"]}))
    """)


def test_a_keras_model_trains_under_mirrored_strategy_on_two_cpus(tmp_path):
    spec = tmp_path / "sharded.feat"
    spec.write_text(SPEC, encoding="utf-8")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(
        [str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", MIRRORED, str(spec), str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["replicas"] == 2
    assert report["contexts"] == [[1, 0, 2]] * 2  # one input pipeline feeds both replicas
    # batches of 2 (= 4 / 2 replicas) go to the replicas in turn, across the files' border;
    # the last holds 1 record, and the replica left without data gets an empty batch
    assert report["steps"] == [[[0, 1], [2, 3]], [[4, 5], [6, 7]], [[8], []]]
    losses = report["loss"]
    assert len(losses) == 3 and all(l == l for l in losses)  # not NaN
    assert losses[-1] < losses[0]  # it learned
