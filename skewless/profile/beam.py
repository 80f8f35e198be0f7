"""The Beam engine of profiles: ``skewless stats`` as an Apache Beam ``PTransform``, for data
one machine cannot read in time.

The steps are the local engine's (``local``): each batch of records is summarized by its
TensorFlow function (``batches.summarizer``, traced once per worker; a batch TensorFlow
refuses is checked record by record, ``batches.errors_of``), and one ``CombineFn`` holds its
per-column accumulators (``accumulators.Column``), merged across workers with their
``merge``. With a baseline profile, the histograms are counted in that one pass, over the
baseline's bin edges; without one, the quantile edges of the merged pass go to a second
pass over the same batches as a side input, and its histogram counts are summed.

The profile is the local engine's, whatever the order and split of the data, wherever the
local engine's is exact: while a column has at most ``distinct_limit`` distinct values and
fewer than 32768 numbers (the quantile sketch's exact range); beyond, the sketches' estimates
depend on how the data was batched and merged, within their documented bounds. Data errors
are the local engine's too, in its order (file, then record)."""
from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Optional

from ..lazy import import_beam

beam = import_beam(__name__)

from ..beam_pipeline import ReadFiles, run_for_result, unnamed
from ..ir import Graph
from ..records import list_files
from . import MAX_ERRORS
from .accumulators import Numbers, Settings
from .batches import as_tensors, summarizer
from .file import Profile
from .local import (Result, add_summary, add_to_histograms, check_valid, finish,
                    histogram_edges, new_columns, start_histograms, summaries_of, traced)


class ProfileSpec(beam.PTransform):
    """PCollection of serialized tf.Examples (bytes) → PCollection of one
    :class:`~skewless.profile.Result`: the profile of the records that keep to the spec,
    every input and feature, and the data errors of those that break it (the first
    ``max_errors``, and how many in all), as ``skewless stats`` computes them.

    ``graph``: a checked spec holding its analyzer constants (``compiler.constants_for``).
    ``baseline``: a profile whose histogram bin edges are reused (read with
    ``read_profile``; ``baseline_path`` names it in errors); a SkewlessError here when it
    has no such column. ``batch_size`` records are parsed and transformed at a time. The
    records come without names: a data error names a record by its place in its batch."""

    def __init__(self, graph: Graph, settings: Settings = Settings(),
                 baseline: Optional[Profile] = None, baseline_path: str = "<baseline>",
                 batch_size: int = 4096, max_errors: int = MAX_ERRORS):
        super().__init__()
        self.profiled = ProfileBatches(graph, "the input", settings, baseline, baseline_path,
                                       max_errors)
        self.batch_size = batch_size

    def expand(self, records):
        return (records
                | "Batch" >> beam.BatchElements(min_batch_size=self.batch_size,
                                                max_batch_size=self.batch_size)
                | "Named" >> beam.Map(_named)
                | "Profile" >> self.profiled)


def _named(records: list) -> tuple:
    return (), (records, unnamed(records))


class ProfileBatches(beam.PTransform):
    """Batches ``(position, (records, names))`` → one Result (see :class:`ProfileSpec`).
    ``names``: of each record, for data errors; ``position``: any comparable value, data
    errors are listed in its order (record order within a batch). ``source`` names the data
    in the error for data without valid records."""

    def __init__(self, graph: Graph, source: str, settings: Settings = Settings(),
                 baseline: Optional[Profile] = None, baseline_path: str = "<baseline>",
                 max_errors: int = MAX_ERRORS):
        super().__init__()
        new_columns(graph, settings, baseline, baseline_path)  # a wrong baseline fails here
        self.graph, self.source, self.settings = graph, source, settings
        self.baseline, self.baseline_path, self.max_errors = baseline, baseline_path, max_errors

    def expand(self, batches):
        first = (batches
                 | "Summaries" >> beam.ParDo(_Summaries(self.graph))
                 | "Accumulate" >> beam.CombineGlobally(_ProfileCombineFn(
                     self.graph, self.settings, self.baseline, self.baseline_path,
                     self.max_errors))
                 | "Check" >> beam.Map(_checked, self.source))
        if self.baseline is not None:
            return first | "Finish" >> beam.Map(_finished, self.settings, self.baseline)
        edges = first | "Edges" >> beam.Map(_edges, self.settings)
        counts = (batches
                  | "NumberValues" >> beam.ParDo(_HistogramCounts(self.graph),
                                                 beam.pvalue.AsSingleton(edges))
                  | "Histograms" >> beam.CombineGlobally(_SumCountsFn()))
        return first | "Finish" >> beam.Map(_finished, self.settings, None,
                                            beam.pvalue.AsSingleton(edges),
                                            beam.pvalue.AsSingleton(counts))


def _finished(checked: tuple, settings: Settings, baseline: Optional[Profile],
              edges: Optional[dict] = None, counts: Optional[dict] = None) -> Result:
    """The Result with its columns; without a baseline, their histograms counted over
    ``edges`` in the second pass."""
    result, columns = checked
    if edges is not None:
        for key, numbers in start_histograms(columns, edges).items():
            numbers.counts += counts.get(key, 0)
    finish(result.profile, columns, settings, baseline)
    return result


class _Summaries(beam.DoFn):
    """A batch ``(position, (records, names))`` → (position, the summaries of its valid
    records as numpy arrays, how many are valid, how many break the spec, their errors)."""

    def __init__(self, graph: Graph):
        super().__init__()
        self.graph = graph

    def setup(self):
        self._summarize = traced(summarizer(self.graph))

    def process(self, batch):
        position, (records, names) = batch
        summaries, invalid, errors = summaries_of(self.graph, self._summarize,
                                                  *as_tensors(records, names))
        yield position, summaries, len(records) - invalid, invalid, errors


class _HistogramCounts(beam.DoFn):
    """A batch → {(section, name): its histogram counts over the side input's edges (int64
    [bins])}, for every number column."""

    def __init__(self, graph: Graph):
        super().__init__()
        self.graph = graph

    def setup(self):
        self._summarize = traced(summarizer(self.graph, numbers_only=True))

    def process(self, batch, edges: dict):
        _, (records, names) = batch
        numbers = {key: Numbers(list(found)) for key, found in edges.items()}
        if len(records):
            add_to_histograms(self.graph, self._summarize, numbers, *as_tensors(records, names))
        yield {key: accumulator.counts for key, accumulator in numbers.items()}


@dataclass
class _Accumulated:
    columns: dict  # (section, name) -> accumulators.Column
    records: int = 0
    invalid_records: int = 0
    errors: list = field(default_factory=list)  # (position, index, error): the first ones
    error_count: int = 0


class _ProfileCombineFn(beam.CombineFn):
    """The local engine's column accumulators, fed with each batch's summaries and merged
    across workers, with the counts of records and the first data errors in the local
    engine's order; the output is (a Result without its columns, the columns)."""

    def __init__(self, graph: Graph, settings: Settings, baseline: Optional[Profile],
                 baseline_path: str, max_errors: int):
        super().__init__()
        self.graph, self.settings, self.max_errors = graph, settings, max_errors
        self.baseline, self.baseline_path = baseline, baseline_path

    def create_accumulator(self) -> _Accumulated:
        return _Accumulated(new_columns(self.graph, self.settings, self.baseline,
                                        self.baseline_path))

    def add_input(self, accumulated: _Accumulated, summarized) -> _Accumulated:
        position, summaries, valid, invalid, errors = summarized
        for summary in summaries:
            add_summary(accumulated.columns, summary)
        accumulated.records += valid
        accumulated.invalid_records += invalid
        accumulated.error_count += len(errors)
        accumulated.errors = self._first([accumulated.errors, [
            (position, index, error) for index, error in enumerate(errors)]])
        return accumulated

    def merge_accumulators(self, accumulated) -> _Accumulated:
        merged, *others = accumulated
        for other in others:
            for key, column in merged.columns.items():
                column.merge(other.columns[key])
            merged.records += other.records
            merged.invalid_records += other.invalid_records
            merged.error_count += other.error_count
        merged.errors = self._first([merged.errors, *(other.errors for other in others)])
        return merged

    def _first(self, errors: list) -> list:
        return heapq.nsmallest(self.max_errors, (error for part in errors for error in part))

    def extract_output(self, accumulated: _Accumulated) -> tuple:
        profile = Profile(self.graph.spec_name, self.graph.fingerprint(), accumulated.records,
                          accumulated.invalid_records)
        errors = [error for _, _, error in accumulated.errors]
        return Result(profile, errors, accumulated.error_count), accumulated.columns


def _checked(accumulated: tuple, source: str) -> tuple:
    check_valid(accumulated[0], source)
    return accumulated


def _edges(checked: tuple, settings: Settings) -> dict:
    return histogram_edges(checked[1], settings)


class _SumCountsFn(beam.CombineFn):
    """{key: counts} dicts → their sums, key by key."""

    def create_accumulator(self) -> dict:
        return {}

    def add_input(self, total: dict, counts: dict) -> dict:
        for key, found in counts.items():
            total[key] = total[key] + found if key in total else found.copy()
        return total

    def merge_accumulators(self, totals) -> dict:
        merged, *others = totals
        for other in others:
            self.add_input(merged, other)
        return merged

    def extract_output(self, total: dict) -> dict:
        return total


# ---- a whole run, for the command line -----------------------------------------------------


def profile(graph: Graph, file_pattern, settings: Settings = Settings(),
            baseline: Optional[Profile] = None, baseline_path: str = "<baseline>",
            batch_size: int = 4096, max_errors: int = MAX_ERRORS,
            pipeline_args=()) -> Result:
    """``local.profile``'s Result, computed in a Beam pipeline made from ``pipeline_args``
    (Beam's command-line options; without ``--runner``, the in-process FnApiRunner). Files
    (TFRecord, or CSV) are read as the local engine reads them, each by one worker. A
    DataError when a file cannot be read whole, or no record is valid."""
    files = list_files(file_pattern)
    profiled = ProfileBatches(graph, ", ".join(files), settings, baseline, baseline_path,
                              max_errors)
    return run_for_result(lambda pipeline: (
        pipeline
        | "Read" >> ReadFiles(files, batch_size, graph.columns)
        | "Profile" >> profiled), pipeline_args, "profile")
