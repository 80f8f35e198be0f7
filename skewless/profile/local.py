"""The local engine of profiles: streaming tf.data passes over the files.

The first pass computes every statistic; the histograms need bin edges: with a baseline
profile they are the baseline's, and counted in the same pass; without one, they are the
data's own quantiles (``bucketize``'s quantile sketch, fed in the first pass), and a second
pass counts the histograms, computing only the number columns.

tf.data reads the files, a batch ahead; each batch is parsed, transformed and summarized by
one TensorFlow function, called batch by batch, so that a batch TensorFlow refuses is
checked record by record (see ``batches.errors_of``) and the pass goes on. Memory is bounded
by the accumulators (see ``accumulators``), never by the number of records."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

from ..lazy import tf

from ..analyze.passes import no_records
from ..analyze.progress import Progress
from ..errors import DataError
from ..ir import Graph
from ..csv_records import batch_reader
from ..records import list_files, read_error, read_to_the_end, source_dataset
from . import MAX_ERRORS
from .accumulators import Column, Settings
from .batches import as_numpy, errors_of, profiled_columns, summarizer
from .file import Profile


@dataclass
class Result:
    """The profile; the first ``MAX_ERRORS`` data errors ("file: record N: column C: …")
    and how many there were in all."""

    profile: Profile
    errors: list = field(default_factory=list)
    error_count: int = 0


def profile(graph: Graph, file_pattern, settings: Settings = Settings(),
            baseline: Optional[Profile] = None, baseline_path: str = "<baseline>",
            batch_size: int = 4096, compression: str = "auto", max_errors: int = MAX_ERRORS,
            progress: Optional[bool] = None) -> Result:
    """The profile of the TFRecord files' records, every input and feature of the spec
    (whose graph must hold its analyzer constants). Records that break the spec are left
    out, and reported as data errors. A DataError when a file cannot be read whole, or no
    record is valid."""
    files = list_files(file_pattern)
    return profile_passes(
        graph, lambda title: _batches(graph, files, batch_size, compression, title, progress),
        ", ".join(files), settings, baseline, baseline_path, max_errors)


def profile_passes(graph: Graph, passes: Callable, what: str, settings: Settings = Settings(),
                   baseline: Optional[Profile] = None, baseline_path: str = "<baseline>",
                   max_errors: int = MAX_ERRORS) -> Result:
    """The profile of the records ``passes(title)`` gives, each time it is called, as
    ``(records, names, errors)`` batches: serialized tf.Examples (a 1-D string tensor, maybe
    empty), their names (for data errors), and the data errors of the records left out
    before they became tf.Examples (each counted as one record that breaks the spec). Read
    once with a baseline, twice without (the second pass counts the histograms).
    ``what`` names the data in errors."""
    columns = new_columns(graph, settings, baseline, baseline_path)
    result = Result(Profile(graph.spec_name, graph.fingerprint()))
    summarize = traced(summarizer(graph))
    for records, names, left_out in passes("profile"):
        add_batch(graph, summarize, columns, records, names, result, max_errors, left_out)
    check_valid(result, what)
    if baseline is None:
        numbers = start_histograms(columns, histogram_edges(columns, settings))
        summarize = traced(summarizer(graph, numbers_only=True))
        for records, names, _ in passes("histograms"):
            if tf.size(records):
                add_to_histograms(graph, summarize, numbers, records, names)
    finish(result.profile, columns, settings, baseline)
    return result


def check_valid(result: Result, what: str) -> None:
    """A DataError when ``what`` (the data) had no record, or no valid one."""
    if not result.profile.records:
        raise no_records(what, "nothing to profile") if not result.error_count else DataError(
            "\n".join([f"no valid record in {what}: every record breaks the spec:",
                       *result.errors]))


def new_columns(graph: Graph, settings: Settings, baseline: Optional[Profile],
                baseline_path: str) -> dict:
    """(section, name) -> a fresh Column accumulator; a number column's histogram edges
    come from ``baseline`` when given."""
    columns = {}
    for column in profiled_columns(graph):
        edges = None
        if baseline is not None and column.dtype != "string":
            edges = baseline.edges(column.section, column.name, column.dtype, baseline_path)
        shape = "" if column.shape.kind == "scalar" else str(column.shape)
        columns[column.section, column.name] = Column(
            column.dtype, shape, settings, edges, input_=column.section == "inputs",
            lengths=column.shape.kind in ("variable", "sparse"), oov=bool(column.vocabularies))
    return columns


def add_batch(graph: Graph, summarize, columns: dict, records, names, result: Result,
              max_errors: int, left_out=()) -> None:
    """A batch's summaries into the columns; its data errors, and those of the records
    ``left_out`` before it, into ``result``."""
    summaries, invalid, errors = summaries_of(graph, summarize, records, names)
    for summary in summaries:
        add_summary(columns, summary)
    result.profile.records += int(tf.size(records)) - invalid
    errors = [*left_out, *errors]
    result.profile.invalid_records += invalid + len(left_out)
    result.errors += errors[:max(0, max_errors - len(result.errors))]
    result.error_count += len(errors)


def summaries_of(graph: Graph, summarize, records, names) -> tuple:
    """(the summaries of a batch's valid records, as numpy arrays; how many of its records
    break the spec; their data errors, in record order). ``records`` and ``names``: 1-D
    string tensors; ``summarize``: :func:`batches.summarizer`'s function."""
    try:
        summaries = [summarize(records, names)] if tf.size(records) else []
        invalid, errors = 0, []
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
        summaries, errors, invalid = errors_of(graph, summarize, records.numpy(), names.numpy())
    return [as_numpy(summary) for summary in summaries], invalid, errors


def add_summary(columns: dict, summary: dict) -> None:
    for (section, name), column in columns.items():
        parts = summary[section][name]
        column.add(int(summary["examples"]), parts.get("lengths"), parts.get("values"),
                   parts.get("distinct"), parts.get("oov"))


def histogram_edges(columns: dict, settings: Settings) -> dict:
    """(section, name) -> the bin edges of each number column: its data's quantiles, from
    the quantile sketch of the pass so far."""
    return {key: column.numbers.quantile_edges(settings.bins)
            for key, column in columns.items() if column.numbers is not None}


def start_histograms(columns: dict, edges: dict) -> dict:
    """The number columns, each counting a histogram over its ``edges`` from now on."""
    numbers = {key: columns[key].numbers for key in edges}
    for key, accumulator in numbers.items():
        accumulator.start_histogram(edges[key])
    return numbers


def add_to_histograms(graph: Graph, summarize, numbers: dict, records, names) -> None:
    try:
        summaries = [summarize(records, names)]
    except (tf.errors.InvalidArgumentError, UnicodeDecodeError):
        summaries = errors_of(graph, summarize, records.numpy(), names.numpy())[0]
    for summary in map(as_numpy, summaries):
        for (section, name), accumulator in numbers.items():
            accumulator.add_to_histogram(summary[section][name]["values"])


def finish(profile: Profile, columns: dict, settings: Settings,
           baseline: Optional[Profile]) -> None:
    profile.settings = {**asdict(settings), "edges": "data" if baseline is None else "baseline"}
    for (section, name), column in columns.items():
        profile.columns[section][name] = column.result()


def traced(summarize):
    """``summarize`` as a TensorFlow function: traced once per batch size at most, and once
    for batches of any size after that."""
    return tf.function(summarize, reduce_retracing=True, autograph=False)


def _batches(graph: Graph, files: list, batch_size: int, compression: str, title: str,
             progress):
    """(records, names, no errors) batches of the files (TFRecord, or CSV whose rows become the
    tf.Examples of ``graph``'s columns), a DataError naming a file that cannot be read whole
    (or a CSV row that does not fit)."""
    read = batch_reader(files, compression, graph.columns)
    dataset = read_to_the_end(read(source_dataset(files, compression), batch_size).prefetch(1))
    shown = Progress(title, enabled=progress)
    try:
        for records, names in dataset:
            yield records, names, ()
            shown.update(int(tf.size(records)))
    except tf.errors.OpError as exc:
        named = read_error(exc)
        if named is None:
            raise
        raise DataError(f"corrupt file: {named}") from None
    finally:
        shown.close()
