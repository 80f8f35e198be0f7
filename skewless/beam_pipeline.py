"""What the Beam engines (``skewless.analyze.beam``, ``skewless.profile.beam``) share: the
data files read in batches as the local engines read them, the names of records that came
without any, and a whole pipeline run whose one result comes back to this process."""
from __future__ import annotations

import contextlib
import os
import pickle
import re
import tempfile
import uuid
from typing import Callable, Sequence

from .lazy import import_beam

beam = import_beam(__name__)
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import (GoogleCloudOptions,
                                                  PipelineOptions, StandardOptions)

from . import csv_records
from .errors import DataError, SkewlessError
from .ir import ColumnSpec
from .records import read_file

# Beam's DirectRunner first tries to fetch and start its Go runner (Prism); the in-process
# Python runner needs nothing from the network.
DEFAULT_RUNNER = "FnApiRunner"


class ReadFiles(beam.PTransform):
    """Begins a pipeline: the data files (TFRecord, or CSV whose rows become tf.Examples of
    ``columns``: see ``csv_records``) → their batches ``(position, (records, names))``, as
    the local engines read them (GZIP when a name ends in .gz, ``batch_size`` records at a
    time, each named "path: record N", or "path: line N" for a CSV row), each file by one
    worker. ``position`` = (the file's number in ``files``, the batch's number in the file)
    orders the batches as the local engines read them."""

    def __init__(self, files: Sequence[str], batch_size: int, columns: tuple[ColumnSpec, ...]):
        super().__init__()
        csv_records.all_csv(files)  # one kind or the other
        self.files, self.batch_size, self.columns = list(files), batch_size, tuple(columns)

    def expand(self, pipeline):
        return (pipeline
                | "Files" >> beam.Create(list(enumerate(self.files)))
                | "Spread" >> beam.Reshuffle()
                | "Read" >> beam.ParDo(_ReadFile(self.batch_size, self.columns)))


class _ReadFile(beam.DoFn):
    """(a data file's number, its path) → its numbered batches (see :class:`ReadFiles`)."""

    def __init__(self, batch_size: int, columns: tuple[ColumnSpec, ...]):
        super().__init__()
        self.batch_size, self.columns = batch_size, columns

    def process(self, numbered: tuple):
        number, path = numbered
        if csv_records.is_csv(path):
            batches = csv_records.batches(path, self.columns, "auto", self.batch_size)
        else:
            batches = read_file(path, "auto", self.batch_size)
        for batch_number, batch in enumerate(batches):
            yield (number, batch_number), batch


def unnamed(records: Sequence[bytes]) -> list:
    """Names for records that came without any (a PCollection of records): their place in
    their batch, which is all there is to say."""
    return [f"the input: record {index} of a batch" for index in range(len(records))]


def run_for_result(build: Callable, pipeline_args=(), what: str = "result"):
    """Run the pipeline ``build(pipeline)`` makes into a PCollection of one element, with
    Beam's command-line options ``pipeline_args`` (without ``--runner``, the in-process
    FnApiRunner), and return that element (``what`` it is, for errors). A DataError raised in
    a step is raised here, without the step's name Beam appends to it."""
    options = PipelineOptions(list(pipeline_args))
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = DEFAULT_RUNNER
    try:
        pipeline = beam.Pipeline(options=options)
    except ValueError as exc:  # an unknown runner, an option Beam refuses
        raise SkewlessError(f"Beam cannot run a pipeline with the options "
                            f"{' '.join(pipeline_args) or '(none)'}: {exc}") from None
    with _result_path(options, what) as path:
        try:
            with pipeline:
                _ = build(pipeline) | "Save" >> beam.Map(_save, path)
        except DataError as exc:  # Beam appends the step it was raised in
            raise DataError(re.sub(r" \[while running '[^']*'\]", "", str(exc))) from None
        return _load(path, what)


@contextlib.contextmanager
def _result_path(options: PipelineOptions, what: str):
    """Where the pipeline leaves its result for this process: under --temp_location when
    given (remote workers can write there), else in a local temporary directory."""
    temp_location = options.view_as(GoogleCloudOptions).temp_location
    if not temp_location:
        with tempfile.TemporaryDirectory(prefix="skewless-") as directory:
            yield os.path.join(directory, f"{what}.pickle")
        return
    path = FileSystems.join(temp_location, f"skewless-{what}-{uuid.uuid4().hex}.pickle")
    try:
        yield path
    finally:
        if FileSystems.exists(path):
            FileSystems.delete([path])


def _save(result, path: str) -> None:
    with FileSystems.create(path) as handle:
        handle.write(pickle.dumps(result))


def _load(path: str, what: str):
    if not FileSystems.exists(path):
        raise SkewlessError(f"the pipeline's workers left no {what} in {path}: give Beam a "
                            "--temp_location that they and this machine can both reach")
    with FileSystems.open(path) as handle:
        return pickle.loads(handle.read())
