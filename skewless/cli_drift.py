"""``skewless drift``: how far a data set (serving traffic, a later span) has moved from the
training data, per input and feature, from their profiles; exit status 1 past a threshold."""
from __future__ import annotations

import sys

from .errors import SkewlessError


def add_parser(commands) -> None:
    from .drift import DEFAULT_THRESHOLDS, MEASURES

    drift = commands.add_parser(
        "drift", help="compare a data set's profile with the training data's: distances per "
                      "input and feature, exit status 1 past a threshold", examples="""\
  skewless drift flights.feat --baseline train.profile.json --profile serve.profile.json
  skewless drift flights.feat --stats flights.stats.json --baseline train.profile.json \\
      --data serve.tfrecord --threshold dest=0.2 tailnum.missing=0.1 --format json -o drift.json
  skewless drift flights.feat --stats flights.stats.json --baseline train.profile.json \
      --request-log requests/""")
    drift.add_argument("spec", help="the .feat file")
    drift.add_argument("--baseline", required=True,
                       help="the profile to compare with (e.g. the training data's, written "
                            "by 'skewless stats')")
    other = drift.add_mutually_exclusive_group(required=True)
    other.add_argument("--profile", help="the profile of the data to compare, computed with "
                                         "'skewless stats --baseline' (the same bins)")
    other.add_argument("--data", nargs="+", help="TFRecord files (globs) to profile here, "
                                                 "over the baseline's bins")
    other.add_argument("--request-log", metavar="DIR",
                       help="a request log folder ('skewless serve --request-log', or TF "
                            "Serving's PredictionLog files) to profile here, over the "
                            "baseline's bins: the requests' raw inputs and the features the "
                            "model computed from them")
    drift.add_argument("--model-name", help="with --request-log: compare the requests of "
                                            "this model only (default: the model of the "
                                            "log's first record; a request of another is "
                                            "then a data error)")
    drift.add_argument("--stats", help="the analyzer constants (a stats file written by "
                                       "'skewless analyze'), needed with --data or "
                                       "--request-log when the spec has analyzers")
    drift.add_argument("--threshold", nargs="+", action="extend", default=[], metavar="NAME=VALUE",
                       help=f"a column's threshold: COLUMN=VALUE for its distance, "
                            f"COLUMN.MEASURE=VALUE for a measure of {', '.join(MEASURES)}")
    drift.add_argument("--default-threshold", nargs="+", action="extend", default=[], metavar="MEASURE=VALUE",
                       help="the threshold of a measure for every column without its own: "
                            + ", ".join(f"{k} (default {v})" for k, v in
                                        DEFAULT_THRESHOLDS.items()))
    drift.add_argument("--format", choices=("table", "json", "html"), default="table",
                       help="the report: a table (default), JSON, or an HTML page (with -o)")
    drift.add_argument("-o", "--output", help="write the report here (default: print it)")
    drift.set_defaults(run=run)


def run(args) -> int:
    """Print or write the report; 1 when a measure exceeds its threshold, or a record of
    --data or --request-log breaks the spec, else 0."""
    from . import compiler
    from .drift import Thresholds, categorical_features, check_threshold_names, compare
    from .files import read_spec
    from .profile import read_profile

    thresholds = Thresholds()
    thresholds.defaults.update(_parsed_once(args.default_threshold, "--default-threshold",
                                            defaults=True))
    thresholds.columns.update(_parsed_once(args.threshold, "--threshold"))
    if args.model_name is not None and not args.request_log:
        raise SkewlessError("skewless drift: --model-name chooses the requests of a model in "
                            "a request log: give --request-log DIR")
    if args.format == "html" and not args.output:
        raise SkewlessError("skewless drift: --format html writes a page: give -o FILE")
    if args.output:
        _refuse_to_overwrite(args)
    source = read_spec(args.spec)
    graph = compiler.check_source(source, args.spec)
    baseline = read_profile(args.baseline)
    check_threshold_names(baseline, thresholds)  # before any data is read
    if args.stats or args.data or args.request_log or not graph.missing_constants():
        graph = _with_stats(args, graph, source)
        if graph.fingerprint() != baseline.fingerprint:
            raise SkewlessError(f"{args.baseline}: a profile of another spec or other analyzer "
                                f"constants than {args.spec}"
                                + (f" with {args.stats}" if args.stats else "")
                                + ": features would not mean the same")
    status = 0
    if args.profile:
        other, other_name = read_profile(args.profile), args.profile
    else:
        other, status = _profile_data(args, graph, baseline)
        other_name = args.request_log or " ".join(args.data)
    report = compare(baseline, other, categorical_features(graph), thresholds,
                     args.baseline, other_name)
    _write(report, args)
    exceeded = report.exceeded
    print(f"{len(exceeded)} of {len(report.columns)} columns past a threshold"
          + (f": {', '.join(c.name for c in exceeded)}" if exceeded else ""), file=sys.stderr)
    return 1 if exceeded else status


def _parsed_once(texts: list, option: str, defaults: bool = False) -> dict:
    """The thresholds ``NAME=VALUE`` by key (``drift.parse_threshold``); a SkewlessError when
    one is given twice."""
    from .drift import parse_threshold

    parsed, given = {}, {}
    for text in texts:
        key, value = parse_threshold(text, defaults)
        if key in given:
            raise SkewlessError(f"{option}: {text.partition('=')[0]} is given twice "
                                f"({given[key]!r} and {text!r}): give it once")
        parsed[key], given[key] = value, text
    return parsed


def _refuse_to_overwrite(args) -> None:
    from .cli import refuse_to_overwrite_inputs, same_file

    refuse_to_overwrite_inputs(args.output, args)
    for what, path in (("the baseline profile", args.baseline), ("the profile", args.profile)):
        if path and same_file(args.output, path):
            raise SkewlessError(f"{args.output}: is {what} this command reads: writing it "
                                f"would replace it; give another -o")


def _with_stats(args, graph, source):
    """The spec's graph with the analyzer constants of --stats; a positioned error for an
    analyzer without them."""
    from .analyze import read_stats
    from .compiler import with_constants

    constants = read_stats(args.stats).constants if args.stats else None
    return with_constants(graph, source, args.spec, constants,
                          stats_name=args.stats or "the stats",
                          how="give 'skewless drift' --stats FILE (written by 'skewless "
                              "analyze' from the training data)")


def _profile_data(args, graph, baseline):
    """The profile of --data or --request-log over the baseline's bins, with the
    baseline's settings; its data errors printed, and the exit status they give."""
    from . import lazy
    from .profile import Settings, profile, profile_request_log

    lazy.import_tensorflow()
    known = {k: v for k, v in baseline.settings.items() if k in ("bins", "top_k", "distinct_limit")}
    if args.request_log:
        result = profile_request_log(graph, args.request_log, Settings(**known), baseline,
                                     args.baseline, model_name=args.model_name)
    else:
        result = profile(graph, args.data, Settings(**known), baseline, args.baseline)
    for error in result.errors:
        print(error, file=sys.stderr)
    if result.error_count:
        found = result.profile
        print(f"{found.invalid_records:,} of {found.records + found.invalid_records:,} records "
              f"break the spec: left out of the comparison", file=sys.stderr)
    return result.profile, 1 if result.error_count else 0


def _write(report, args) -> None:
    from .analyze.stats import dumps, write_text

    if args.format == "html":
        from .drift_page import page

        text = page(report)
    elif args.format == "json":
        text = dumps(report.to_dict())
    else:
        text = table(report)
    if args.output:
        write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def table(report) -> str:
    """One line per column, worst first: the distance and the changes of its rates, each
    marked with ``!`` when past its threshold."""
    rows = [("", "COLUMN", "DISTANCE", "MISSING", "OOV", "NEW VALUES")]
    for column in report.columns:
        m = column.measures
        rows.append(("FAIL" if column.exceeded else "ok",
                     f"{column.section[:-1]} {column.name}",
                     _shown(m["distance"], f"{m['distance'].detail['type']} "),
                     _rates(m.get("missing")), _rates(m.get("oov")), _new(m.get("new_values"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in rows]
    return "\n".join(lines) + "\n"


def _shown(measure, prefix: str = "") -> str:
    if measure is None:
        return ""
    if measure.value is None:
        return f"{prefix}n/a"
    mark = "!" if measure.exceeded else ""
    return f"{prefix}{measure.value:.4f}{mark} (≤ {measure.threshold:g})"


def _rates(measure) -> str:
    if measure is None or measure.value is None:
        return _shown(measure)
    before, after = measure.detail["baseline"], measure.detail["other"]
    return f"{before:.1%} → {after:.1%}{'!' if measure.exceeded else ''}"


def _new(measure) -> str:
    if measure is None or measure.value is None:
        return _shown(measure)
    values = measure.detail["values"]
    shown = ", ".join(map(repr, values[:3])) + (", …" if len(values) > 3 else "")
    return f"{measure.value:.1%}{'!' if measure.exceeded else ''}" + (f" {shown}" if values else "")
