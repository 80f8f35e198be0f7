"""``skewless check SPEC``: the skew property of one spec, on generated records and on the
user's own data.

Generated records come from ``strategies.batches``; hypothesis runs ``examples`` batches
and, when one fails, shrinks it to the smallest counterexample it can find, which is
printed with the differing tensors. Every run has a seed (drawn when none is given) and
prints it, so that a failure can be replayed with ``--seed``. With ``--data``, every record
of the files is checked too, in batches as they come; a record that does not fit the spec
is a data error naming the file, the record and the column.

The spec's TensorFlow functions are traced once (one ``SkewChecker``) and reused for every
batch."""
from __future__ import annotations

import contextlib
import random
import sys
from typing import Iterable, Optional, Sequence

from ..errors import DataError
from .skew import SkewChecker
from .strategies import batches, from_example

__all__ = ["check_spec", "check_generated", "check_data"]

DATA_BATCH = 256
SHRINK_BUDGET = 100  # checks spent shrinking a counterexample (each traverses every path)


def check_spec(path: str, data: Sequence[str] = (), examples: int = 100,
               seed: Optional[int] = None, out=None, stats=None) -> int:
    """Check that ``path``'s training and serving features cannot skew; print a summary (or
    the smallest counterexample) to ``out`` and return the exit status: 0 or 1.

    Analyzer constants the spec does not give come from ``stats`` (a stats file's path, as
    ``skewless.load`` takes it), else from ``data``; without either, such a spec is an error. Errors in the spec or the data raise SkewlessError (from
    ``skewless.load`` or from reading the files)."""
    from ..compiler import load

    out = out if out is not None else sys.stdout
    data = list(data)
    features = load(path, stats=stats, data=data or None)
    seed = seed if seed is not None else random.randrange(2**32)
    with _quiet_tensorflow(), SkewChecker(features) as checker:
        if examples > 0:
            try:
                count, records = check_generated(checker, examples, seed)
            except AssertionError as exc:
                print(f"{path}: training and serving differ (smallest counterexample found, "
                      f"seed {seed}; replay with --seed {seed}):\n{exc}", file=out)
                return 1
            print(f"{path}: no skew in {count} generated batches ({records} records, "
                  f"seed {seed})", file=out)
        if data:
            try:
                records, files = check_data(checker, data)
            except AssertionError as exc:
                print(f"{path}: training and serving differ on the data:\n{exc}", file=out)
                return 1
            print(f"{path}: no skew on {records} records from {files} "
                  f"file{'s' if files != 1 else ''}", file=out)
    return 0


def check_generated(checker: SkewChecker, examples: int, seed: int) -> tuple[int, int]:
    """Run the property on ``examples`` generated batches; return (batches, records) or
    raise the AssertionError of the smallest failing batch."""
    from hypothesis import HealthCheck, Verbosity, given, settings
    from hypothesis import seed as with_seed

    counts = [0, 0]
    failing: set = set()  # the batches seen failing (reprs), replayed whatever the budget
    spent = [0]

    @with_seed(seed)
    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), print_blob=False,
              report_multiple_bugs=False, verbosity=Verbosity.quiet)
    @given(batches(checker.columns))
    def no_skew(records):
        key = repr(records)
        if failing and key not in failing:
            spent[0] += 1
            if spent[0] > SHRINK_BUDGET:
                return  # enough shrinking: the smallest failure so far is the answer
        try:
            checker.check(records)
        except AssertionError:
            failing.add(key)
            raise
        counts[0] += 1
        counts[1] += len(records)

    no_skew()
    return counts[0], counts[1]


def check_data(checker: SkewChecker, patterns: Iterable[str],
               batch_size: int = DATA_BATCH) -> tuple[int, int]:
    """Run the property on every record of the files matching ``patterns`` (globs; ``.gz``
    files are GZIP; ``.csv`` and ``.csv.gz`` files are CSV, each row a record); return
    (records, files)."""
    import tensorflow as tf

    from ..csv_records import all_csv
    from ..records import list_files

    files = list_files(list(patterns))
    all_csv(files)  # one kind or the other
    total = 0
    for path in files:
        batch, protos, first = [], [], 0
        for index, (serialized, where) in enumerate(_read(path, checker.columns)):
            try:
                example = tf.train.Example.FromString(serialized)
            except Exception:  # noqa: BLE001 - protobuf's DecodeError, whatever its module
                raise DataError(f"{where}: not a tf.train.Example") from None
            batch.append(from_example(example, checker.columns, where))
            protos.append(example)
            if len(batch) == batch_size:
                _check_batch(checker, batch, protos, path, first)
                total += len(batch)
                batch, protos, first = [], [], index + 1
        if batch:
            _check_batch(checker, batch, protos, path, first)
            total += len(batch)
    return total, len(files)


def _read(path: str, columns):
    """(record, name) of each record of a data file: "path: record N", or for the rows of
    a CSV file (tf.Examples of ``columns``) "path: line N"."""
    from ..csv_records import examples, is_csv
    from ..records import read_file

    if is_csv(path):
        yield from examples(path, columns)
        return
    for records, names in read_file(path):
        for record, name in zip(records, names):
            yield record, name.decode("utf-8", "surrogateescape")


def _check_batch(checker: SkewChecker, batch, protos, path: str, first: int) -> None:
    try:
        checker.check(batch, protos)
    except AssertionError as exc:
        raise AssertionError(f"in {path}, the batch of records {first}..{first + len(batch) - 1}"
                             f" (record numbers below count from {first}):\n{exc}") from None


@contextlib.contextmanager
def _quiet_tensorflow():
    """TensorFlow's Python warnings (deprecations, retracing notices) are not the user's
    concern here."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)
