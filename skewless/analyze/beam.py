"""The Beam engine: a spec's analyzers as an Apache Beam ``PTransform``, for data one machine
cannot read in time.

Each analyzer phase is one step of the pipeline: each batch of records gets its analyzers'
input values from the local engine's TensorFlow function (``passes.batch_values``, traced
once per worker), and one ``CombineFn`` per phase holds the local engine's accumulators,
merged across workers. A later phase gets the constants of the earlier ones as a side input;
the phases share the batches. The constants are the local engine's: vocabularies, moments
and ranges exactly, whatever the order and split of the data; quantile boundaries exactly
too while an analyzer sees fewer than 32768 values, and beyond that within the sketch's
documented rank error (the sketch then depends on how values were batched and merged)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..lazy import import_beam

beam = import_beam(__name__)
import tensorflow as tf

from ..beam_pipeline import ReadFiles, run_for_result, unnamed
from ..ir import Graph
from ..records import list_files
from .passes import (accumulators, bad_data, batch_values, no_records,
                     record_results)
from .phases import phases
from .stats import Stats


class AnalyzeSpec(beam.PTransform):
    """PCollection of serialized tf.Examples (bytes) → PCollection of one
    :class:`~skewless.analyze.Stats`: the constants of every analyzer the spec is missing.

    ``spec`` is the path of a .feat file, or a checked ``Graph`` (which may already hold some
    constants: only the missing ones are computed). ``batch_size`` records are parsed and
    transformed at a time."""

    def __init__(self, spec, batch_size: int = 4096):
        super().__init__()
        self.graph = spec if isinstance(spec, Graph) else _check(spec)
        self.batch_size = batch_size

    def expand(self, records):
        return (records
                | "Batch" >> beam.BatchElements(min_batch_size=self.batch_size,
                                                max_batch_size=self.batch_size)
                | "Unnamed" >> beam.Map(_unnamed)
                | "Analyzers" >> _AnalyzeBatches(self.graph, "the input"))


def _check(path) -> Graph:
    from ..compiler import check_file

    return check_file(os.fspath(path))


def _unnamed(records: list) -> tuple:
    return records, None


class _AnalyzeBatches(beam.PTransform):
    """Batches ``(records, names)`` (``names``: of each record, for errors, or None) → one
    Stats: a step per analyzer phase, each after the phases it needs. ``source`` names the
    data in the error for data without records."""

    def __init__(self, graph: Graph, source: str):
        super().__init__()
        self.graph, self.source = graph, source

    def expand(self, batches):
        stats = batches.pipeline | "NoConstantsYet" >> beam.Create([Stats(self.graph.spec_name)])
        for number, keys in enumerate(phases(self.graph), start=1):
            stats = batches | f"Pass{number}" >> _Pass(self.graph, keys, self.source, stats)
        return stats


class _Pass(beam.PTransform):
    """One analyzer phase: batches → the Stats of the phases so far (``before``: a
    PCollection of one Stats, the phases before this one)."""

    def __init__(self, graph: Graph, keys: list, source: str, before):
        super().__init__()
        self.graph, self.keys, self.source, self.before = graph, keys, source, before

    def expand(self, batches):
        before = beam.pvalue.AsSingleton(self.before)
        return (batches
                | "Values" >> beam.ParDo(_BatchValues(self.graph, self.keys), before)
                | "Accumulate" >> beam.CombineGlobally(
                    _PassCombineFn(self.graph, self.keys, self.source))
                | "AddToEarlierPhases" >> beam.Map(_after, before))


def _after(new: Stats, before: Stats) -> Stats:
    return Stats(before.spec, {**before.constants, **new.constants},
                 {**before.report, **new.report}, new.rows)


class _BatchValues(beam.DoFn):
    """A batch of serialized tf.Examples and their names → (rows, {analyzer key: what its
    accumulator's ``add_summary`` takes, as numpy arrays})."""

    def __init__(self, graph: Graph, keys: list):
        super().__init__()
        self.graph, self.keys = graph, keys

    def setup(self):
        self._values = None  # traced on the first batch, once the side input is known

    def process(self, batch, before: Stats):
        if self._values is None:
            filled = self.graph.with_constants(before.constants)
            # traced once per batch size at most, and once for batches of any size after that
            self._values = tf.function(batch_values(filled, self.keys), reduce_retracing=True,
                                       autograph=False)
        records, names = batch
        try:
            values = self._values(tf.constant(records, tf.string),
                                  None if names is None else tf.constant(names, tf.string))
        except (tf.errors.InvalidArgumentError, tf.errors.DataLossError, UnicodeDecodeError) as exc:
            if names is None:
                names = unnamed(records)
            raise bad_data(exc, zip(records, names)) from None
        yield len(records), {key: tuple(part.numpy() for part in parts)
                             for key, parts in values.items()}


@dataclass
class _Accumulated:
    rows: int
    analyzers: dict  # analyzer key -> accumulator


class _PassCombineFn(beam.CombineFn):
    """The accumulators of one phase, fed with each batch's values and merged across
    workers; the output is the phase's Stats."""

    def __init__(self, graph: Graph, keys: list, source: str):
        super().__init__()
        self.graph, self.keys, self.source = graph, keys, source

    def create_accumulator(self) -> _Accumulated:
        return _Accumulated(0, accumulators(self.graph, self.keys))

    def add_input(self, accumulated: _Accumulated, batch) -> _Accumulated:
        rows, values = batch
        accumulated.rows += rows
        for key, arrays in values.items():
            accumulated.analyzers[key].add_summary(*arrays)
        return accumulated

    def merge_accumulators(self, accumulated) -> _Accumulated:
        merged, *others = accumulated
        for other in others:
            merged.rows += other.rows
            for key, accumulator in merged.analyzers.items():
                accumulator.merge(other.analyzers[key])
        return merged

    def extract_output(self, accumulated: _Accumulated) -> Stats:
        if not accumulated.rows:
            raise no_records(self.source)
        stats = Stats(self.graph.spec_name, rows=accumulated.rows)
        record_results(stats, accumulated.analyzers)
        return stats


# ---- a whole run, for the command line -----------------------------------------------------


def analyze(graph: Graph, file_pattern, pipeline_args=(), batch_size: int = 4096) -> Stats:
    """Compute every analyzer constant the graph is missing from the data files (TFRecord,
    or CSV: see ``csv_records``), in a Beam pipeline made from ``pipeline_args`` (Beam's
    command-line options; without ``--runner``, the in-process FnApiRunner). Files are read
    as the local engine reads them (GZIP when their name ends in .gz, in batches of
    ``batch_size`` records named for errors), each by one worker."""
    files = list_files(file_pattern)
    return run_for_result(lambda pipeline: (
        pipeline
        | "Read" >> ReadFiles(files, batch_size, graph.columns)
        | "Batches" >> beam.Values()
        | "Analyze" >> _AnalyzeBatches(graph, ", ".join(files))), pipeline_args, "stats")
