"""``skewless stats``: the profile of a data set (training, evaluation, serving logs) for a
spec, every input and feature, and every record that breaks the spec."""
from __future__ import annotations

import functools
import sys

from . import lazy
from .errors import SkewlessError


def add_parser(commands) -> None:
    from .cli import runner_argument, whole_number
    from .profile import MAX_ERRORS

    stats = commands.add_parser(
        "stats", help="profile a data set: statistics of every input and feature of a spec, "
                      "and the records that break it", examples="""\
  skewless stats flights.feat --stats flights.stats.json --data 'train-*.tfrecord' -o train.profile.json
  skewless stats flights.feat --stats flights.stats.json --data serve.tfrecord \\
      --baseline train.profile.json -o serve.profile.json
  skewless stats flights.feat --stats flights.stats.json --request-log requests/ \\
      --baseline train.profile.json -o requests.profile.json
  skewless stats flights.feat --stats flights.stats.json --data 'gs://bucket/train-*' \\
      -o train.profile.json --runner beam -- --runner DataflowRunner --project P""")
    stats.add_argument("spec", help="the .feat file")
    source = stats.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", nargs="+", help="TFRecord or CSV files (globs)")
    source.add_argument("--request-log", metavar="DIR",
                        help="a request log folder ('skewless serve --request-log'): the "
                             "requests' raw inputs, and their features")
    stats.add_argument("--model-name", help="with --request-log: profile the requests of "
                                            "this model only (default: the model of the "
                                            "log's first record; a request of another is "
                                            "then a data error)")
    stats.add_argument("-o", "--output", required=True, help="the profile to write (JSON)")
    stats.add_argument("--stats", help="the analyzer constants (a stats file written by "
                                       "'skewless analyze'), needed when the spec has "
                                       "analyzers")
    stats.add_argument("--baseline", help="a profile whose histogram bin edges are reused "
                                          "(e.g. the training data's), so that the two "
                                          "profiles compare bin by bin")
    number = functools.partial(whole_number, low=1, what="a positive whole number")
    stats.add_argument("--bins", type=functools.partial(whole_number, low=2, high=2**15,
                                                        what="a number of bins"), default=10,
                       help="quantile bins of each number column without --baseline "
                            "(default 10)")
    stats.add_argument("--top-k", type=number, default=20,
                       help="most frequent values listed per column (default 20)")
    stats.add_argument("--distinct-limit", type=number, default=100_000,
                       help="distinct values per column counted exactly; beyond, sketches "
                            "estimate (default 100000)")
    stats.add_argument("--max-errors", type=functools.partial(whole_number, low=0),
                       default=MAX_ERRORS,
                       help=f"data errors shown (default {MAX_ERRORS}; all are counted)")
    runner_argument(stats, "the profile of --data is computed")
    stats.set_defaults(run=run)


def run(args) -> int:
    """Write the profile of the records that keep to the spec; print each data error
    ("file: record N: column C: …") and exit 1 when a record breaks the spec."""
    if args.runner == "beam" and args.request_log:
        raise SkewlessError("skewless stats: --runner beam profiles --data files: a request "
                            "log is profiled by the local engine (--runner local)")
    if args.model_name is not None and not args.request_log:
        raise SkewlessError("skewless stats: --model-name chooses the requests of a model in "
                            "a request log: give --request-log DIR")
    lazy.import_tensorflow()
    from . import compiler
    from .analyze import read_stats
    from .cli import refuse_to_overwrite_inputs, same_file
    from .files import read_spec
    from .profile import Settings, profile, profile_request_log, read_profile, write_profile

    refuse_to_overwrite_inputs(args.output, args)
    if args.baseline and same_file(args.output, args.baseline):
        raise SkewlessError(f"{args.output}: is the baseline profile this command reads: "
                            f"writing it would replace it; give another -o")
    source = read_spec(args.spec)
    graph = compiler.check_source(source, args.spec)
    constants = read_stats(args.stats).constants if args.stats else None
    graph = compiler.with_constants(
        graph, source, args.spec, constants, stats_name=args.stats or "the stats", how=(
            "give 'skewless stats' --stats FILE (written by 'skewless analyze' from the "
            "training data)"))
    baseline = read_profile(args.baseline) if args.baseline else None
    settings = Settings(bins=args.bins, top_k=args.top_k, distinct_limit=args.distinct_limit)
    if args.request_log:
        result = profile_request_log(graph, args.request_log, settings, baseline,
                                     args.baseline or "", max_errors=args.max_errors,
                                     model_name=args.model_name)
    elif args.runner == "beam":
        from .cli import beam_engine

        result = beam_engine("skewless.profile.beam").profile(
            graph, args.data, settings, baseline, args.baseline or "",
            max_errors=args.max_errors, pipeline_args=args.pipeline_args)
    else:
        result = profile(graph, args.data, settings, baseline, args.baseline or "",
                         max_errors=args.max_errors)
    write_profile(result.profile, args.output)
    found = result.profile
    print(f"wrote {args.output}: {found.records:,} records, {len(found.columns['inputs'])} "
          f"inputs, {len(found.columns['features'])} features")
    for error in result.errors:
        print(error, file=sys.stderr)
    if result.error_count > len(result.errors):
        print(f"… and {result.error_count - len(result.errors):,} more data errors",
              file=sys.stderr)
    if result.error_count:
        print(f"{found.invalid_records:,} of {found.records + found.invalid_records:,} records "
              f"break the spec: left out of the profile", file=sys.stderr)
        return 1
    return 0
