"""The ``skewless`` command: compile and check .feat specs.

A user's mistake (in a spec, in data, in arguments) ends with a message and exit status 1,
never a traceback."""
from __future__ import annotations

import argparse
import difflib
import functools
import importlib
import os
import pathlib
import sys
from typing import Optional

import skewless

from . import cli_convert, cli_drift, cli_explain, cli_graph, cli_request_log, cli_stats, lazy
from .errors import ShownStream, SkewlessError, source_lines

MAX_SEED = 2**32 - 1  # the seeds 'skewless check' draws itself are below 2**32
MAX_MESSAGE_BYTES = 2**31 - 1  # gRPC's largest message


def main(argv=None) -> int:
    stderr = sys.stderr
    sys.stderr = ShownStream(stderr)
    try:
        return _main(argv)
    finally:
        sys.stderr = stderr


def _main(argv) -> int:
    parser = _parser()
    args = _parse(parser, sys.argv[1:] if argv is None else list(argv))
    lazy.QUIET_IMPORT = True
    try:
        return args.run(args)
    except SkewlessError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except OSError as exc:  # a path given: a folder for a file, no permission, a full disk
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"skewless {args.command}: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parse(parser: argparse.ArgumentParser, argv: list) -> argparse.Namespace:
    """The arguments; those after ``--`` and options skewless does not know are Beam
    pipeline options (``args.pipeline_args``), allowed only with ``--runner beam``."""
    passed = []
    if "--" in argv:
        at = argv.index("--")
        argv, passed = argv[:at], argv[at + 1:]
    args, unknown = parser.parse_known_args(argv)
    args.pipeline_args = unknown + passed
    if args.pipeline_args and getattr(args, "runner", None) != "beam":
        parser.error(f"unrecognized arguments: {' '.join(args.pipeline_args)}")
    if args.command == "check" and args.examples == 0 and not args.data:
        parser.error("check --examples 0 checks nothing without --data: give --data FILES, or "
                     "at least 1 example")
    return args


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skewless", description=(
        "Define features once in a .feat file; compile them into TensorFlow training and "
        "serving code that cannot skew."))
    parser.add_argument("--version", action=_Version)
    commands = _Commands(parser.add_subparsers(dest="command", required=True,
                                               metavar="COMMAND"))

    compile_ = commands.add_parser("compile", help="check a spec and write its Python module",
                                   examples="""\
  skewless compile flights.feat --data 'train-*.tfrecord' -o flights_features.py
  skewless compile flights.feat --stats flights.stats.json --check   # in CI""")
    compile_.add_argument("spec", help="the .feat file")
    compile_.add_argument("-o", "--output", help="the module to write (default: SPEC_features.py "
                                                 "beside the spec)")
    constants_arguments(compile_)
    runner_argument(compile_)
    compile_.add_argument("--check", action="store_true",
                          help="write nothing; exit 1 if the output is missing or stale")
    compile_.set_defaults(run=_compile)

    analyze = commands.add_parser("analyze", help="compute analyzer constants from training "
                                                  "data into a stats file", examples="""\
  skewless analyze flights.feat --data 'train-*.tfrecord' -o flights.stats.json
  skewless analyze flights.feat --data 'gs://b/train-*.tfrecord.gz' -o stats.json \\
      --runner beam -- --runner DataflowRunner --project P --region us-central1""")
    analyze.add_argument("spec", help="the .feat file")
    analyze.add_argument("--data", nargs="+", required=True,
                         help="TFRecord or CSV files (globs)")
    analyze.add_argument("-o", "--output", required=True, help="the stats file to write (JSON)")
    runner_argument(analyze)
    analyze.set_defaults(run=_analyze)

    check = commands.add_parser("check", help="check a spec, and prove training and serving "
                                              "give identical tensors on generated records",
                                examples="""\
  skewless check flights.feat --stats flights.stats.json --examples 500
  skewless check flights.feat --data 'train-*.tfrecord'""")
    check.add_argument("spec", help="the .feat file")
    check.add_argument("--data", nargs="*", default=(), help="TFRecord or CSV files (globs) whose "
                                                             "records are checked too (and "
                                                             "analyzer constants computed "
                                                             "from, without --stats)")
    check.add_argument("--stats", help="a stats file written by 'skewless analyze': the "
                                       "analyzer constants")
    check.add_argument("--examples", type=functools.partial(
                           whole_number, low=0, what="a number of cases"), default=100,
                       help="how many generated cases to try (default 100; 0 checks only "
                            "the records of --data)")
    check.add_argument("--seed", type=functools.partial(whole_number, low=0, high=MAX_SEED,
                                                         what="a seed"),
                       default=None, help=f"seed of the generated cases (0 to {MAX_SEED})")
    check.set_defaults(run=_check)

    serve = commands.add_parser("serve", help="serve exported model versions over TF "
                                              "Serving's gRPC and REST APIs", examples="""\
  skewless serve exports/flights --model-name flights
  skewless serve exports/flights --model-name flights --port 0 --rest-port 0 --host 0.0.0.0
  skewless serve --model_config_file models.config   # several models, pinned versions
  skewless serve exports/flights --model-name flights --request-log requests --sampling-rate 0.1
  skewless serve exports/flights --model-name flights --enable_batching \
      --batching_parameters_file batching.config --monitoring_config_file monitoring.config""")
    serve.add_argument("export_dir_base", nargs="?",
                       help="the folder of numbered SavedModel versions (the newest is "
                            "served; new ones are picked up); or --model_base_path")
    serve.add_argument("--model-name", "--model_name", type=_model_name,
                       help="the model name clients ask for")
    serve.add_argument("--model_base_path", help="the same as EXPORT_DIR_BASE")
    serve.add_argument("--model_config_file",
                       help="TF Serving's model server config (text format) listing the "
                            "models to serve, each with its base_path, version policy and "
                            "version labels; instead of a model name and base path")
    serve.add_argument("--allow_version_labels_for_unavailable_models", action="store_true",
                       help="start even if a version label of --model_config_file points at "
                            "a version that is not served")
    serve.add_argument("--port", type=_PORT, default=8500,
                       help="gRPC port (default 8500; 0 picks a free one)")
    serve.add_argument("--rest-port", "--rest_api_port", type=_PORT, default=8501,
                       help="REST port (default 8501; 0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1; 0.0.0.0 for every one)")
    serve.add_argument("--max-batch-size", type=_POSITIVE,
                       help="most examples (or rows) one request may carry (default 1024)")
    serve.add_argument("--max-request-bytes", type=functools.partial(
                           whole_number, low=1, high=MAX_MESSAGE_BYTES,
                           what="a number of bytes"),
                       help="largest REST body or gRPC message, and largest input tensor "
                            "a request may declare, in bytes (default 64 MiB; at most "
                            "2 GiB - 1, gRPC's limit); a REST body may hold a value "
                            "(number, string, list or object) per 8 of these bytes")
    serve.add_argument("--idle-timeout", type=_positive_seconds,
                       help="seconds a connection may send nothing before it is closed: "
                            "each read of a REST request, a gRPC connection between calls "
                            "(default 30; above 0 and below 1000000)")
    serve.add_argument("--read-timeout", type=_positive_seconds,
                       help="seconds a REST client may take to send one request whole "
                            "(request line, headers and body), from its first byte; one "
                            "later is answered 408 and its connection closed (default 60; "
                            "above 0 and below 1000000)")
    serve.add_argument("--max-connections", type=_POSITIVE,
                       help="REST connections served at once (one more is answered 503), "
                            "and gRPC calls in progress at once (one more is "
                            "RESOURCE_EXHAUSTED) (default 256)")
    serve.add_argument("--enable_batching", nargs="?", const=True, default=False, type=_flag,
                       help="run concurrent requests to a signature in batches (as "
                            "--enable_batching=true)")
    serve.add_argument("--batching_parameters_file",
                       help="TF Serving's BatchingParameters (text format): max_batch_size, "
                            "batch_timeout_micros, num_batch_threads, max_enqueued_batches; "
                            "implies --enable_batching")
    serve.add_argument("--monitoring_config_file",
                       help="TF Serving's MonitoringConfig (text format); prometheus_config "
                            "{ enable: true } serves Prometheus metrics on the REST port")
    cli_request_log.add_arguments(serve)
    serve.set_defaults(run=_serve)

    fmt = commands.add_parser("fmt", help="rewrite .feat files in the canonical layout",
                              examples="""\
  skewless fmt flights.feat          # rewrite it in place if it is not formatted
  skewless fmt --check specs/        # CI: exit 1 and show the diff if any file would change
  skewless fmt --diff flights.feat   # show what would change, write nothing""")
    fmt.add_argument("files", nargs="+", metavar="FILE",
                     help=".feat files, or folders whose .feat files (at any depth) are formatted")
    fmt.add_argument("--check", action="store_true",
                     help="write nothing; print the diff of each file that is not formatted "
                          "and exit 1 if there is one")
    fmt.add_argument("--diff", action="store_true",
                     help="write nothing; print the diff of each file that is not formatted")
    fmt.set_defaults(run=_fmt)
    cli_convert.add_parser(commands)
    cli_drift.add_parser(commands)
    cli_explain.add_parser(commands)
    cli_graph.add_parser(commands)
    cli_stats.add_parser(commands)
    return parser


class _Version(argparse.Action):
    """``--version``: print the installed version and exit (the version is looked up only
    then)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"skewless {skewless.__version__}")
        parser.exit()


class _Commands:
    """Adds subcommands whose help ends with examples, shown as written."""

    def __init__(self, subparsers):
        self._subparsers = subparsers

    def add_parser(self, name: str, help: str, examples: str) -> argparse.ArgumentParser:
        return self._subparsers.add_parser(
            name, help=help, description=help[:1].upper() + help[1:] + ".",
            epilog=f"examples:\n{examples}", formatter_class=argparse.RawDescriptionHelpFormatter)


def whole_number(text: str, low: int = 0, high: Optional[int] = None,
                 what: str = "a number") -> int:
    """An option's whole number, written in ASCII digits, within [low, high]; an argparse
    error (exit 2 with the usage) otherwise."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"not {what}: {text!r} (a whole number is expected)")
    value = int(text) if len(digits) <= 30 else (-1 if text.startswith("-") else 1) * 10**30
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"from {low} to {high}"
        shown = text if len(text) <= 40 else f"{text[:20]}… ({len(digits)} digits)"
        raise argparse.ArgumentTypeError(f"not {what}: {shown} (it must be {bounds})")
    return value


_PORT = functools.partial(whole_number, low=0, high=65535, what="a port number")
_POSITIVE = functools.partial(whole_number, low=1, what="a positive whole number")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 10 ** 6:  # NaN and infinity included
        raise argparse.ArgumentTypeError(
            f"not a number of seconds above 0 and below 1000000: {text!r}")
    return value


def _flag(text: str) -> bool:
    """A boolean flag's value, as TF Serving's flags take it."""
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"not true or false: {text!r}")
    return text.lower() in ("true", "1")


def _model_name(text: str) -> str:
    if not text:  # no REST path (/v1/models/NAME) can name it
        raise argparse.ArgumentTypeError("a model name cannot be empty")
    return text


def constants_arguments(parser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", nargs="+", help="TFRecord or CSV files (globs) of training "
                                                  "data to compute analyzer constants from")
    source.add_argument("--stats", help="a stats file written by 'skewless analyze'")


def runner_argument(parser, work: str = "analyzers run over --data") -> None:
    parser.add_argument("--runner", choices=("local", "beam"), default="local",
                        help=f"where {work}: 'local' (default) or 'beam' (an Apache Beam "
                             "pipeline; Beam's options follow '--', e.g. "
                             "'-- --runner DataflowRunner --project P')")


def beam_engine(module: str):
    """A Beam engine's module (``skewless.analyze.beam``, ``skewless.profile.beam``),
    imported quietly; a SkewlessError saying how to install Apache Beam when it is not."""
    import logging

    lazy.import_tensorflow()
    logging.disable(logging.WARNING)  # Beam warns on import about Google Cloud clients
    try:
        engine = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "apache_beam":
            raise
        raise SkewlessError(f"--runner beam: {exc}") from None
    finally:
        logging.disable(logging.NOTSET)
    # Beam logs a step's error with its traceback before raising it here, where it is shown.
    logging.getLogger("apache_beam.runners.common").setLevel(logging.CRITICAL)
    return engine


def _engine(args):
    """The function computing analyzer constants from data: None for the local engine."""
    if args.runner != "beam":
        return None
    return functools.partial(beam_engine("skewless.analyze.beam").analyze,
                             pipeline_args=args.pipeline_args)


def _default_output(spec: str) -> str:
    stem = os.path.splitext(os.path.basename(spec))[0]
    return os.path.join(os.path.dirname(spec), f"{stem}_features.py")


def _compile(args) -> int:
    from . import codegen, compiler
    from .files import differing_files, write_module

    if args.runner == "beam" and not args.data:
        raise SkewlessError("--runner beam runs analyzers over training data: give --data")
    output = args.output or _default_output(args.spec)
    if not args.check:
        refuse_to_overwrite_inputs(output, args)
    graph, stats = compiler.constants_for(args.spec, stats=args.stats, data=args.data,
                                      engine=_engine(args))
    stem = os.path.splitext(os.path.basename(output))[0]
    generated = codegen.generate(graph, os.path.basename(args.spec), module_name=stem)
    if args.check:
        stale = differing_files(output, generated.source, generated.assets)
        if stale:
            reasons = "; ".join(f"{name} {why}" for name, why in stale)
            print(f"{output} is stale ({reasons}): run 'skewless compile {args.spec} -o "
                  f"{output}' with the same data or stats", file=sys.stderr)
            return 1
        print(f"{output} is up to date")
        return 0
    try:
        write_module(output, generated.source, generated.assets, generated.asset_folder)
    except OSError as exc:
        raise SkewlessError(f"cannot write {output}: {exc.strerror or exc}") from None
    print(f"wrote {output}: {len(graph.features)} features, {len(graph.targets)} targets "
          f"(fingerprint {graph.fingerprint()})")
    if args.data and stats is not None:
        _report_nan(stats)
    return 0


def _analyze(args) -> int:
    lazy.import_tensorflow()
    from . import compiler
    from .analyze import analyze, write_stats

    refuse_to_overwrite_inputs(args.output, args)
    graph = compiler.check_file(args.spec)
    stats = (_engine(args) or analyze)(graph, args.data)
    write_stats(stats, args.output)
    print(f"wrote {args.output}: {len(stats.constants)} analyzers over {stats.rows:,} rows")
    _report_nan(stats)
    return 0


def refuse_to_overwrite_inputs(output: str, args) -> None:
    """A SkewlessError when ``output`` is the command's spec, stats file or one of its data
    files (``-o flights.feat`` would replace the spec with the output), or is in its request
    log folder."""
    inputs = [("the spec", args.spec)]
    if getattr(args, "stats", None):
        inputs.append(("the stats file", args.stats))
    if getattr(args, "data", None):
        from .records import list_files  # the files the command will read, as it finds them

        inputs += [("a data file", path) for path in list_files(args.data)]
    for what, path in inputs:
        if same_file(output, path):
            raise SkewlessError(f"{output}: is {what} this command reads: writing it would "
                                f"replace it; give another -o")
    request_log = getattr(args, "request_log", None)
    if request_log and same_file(os.path.dirname(os.path.abspath(output)), request_log):
        raise SkewlessError(f"{output}: is in the request log folder {request_log} this "
                            f"command reads, every file of which is read as a log: give "
                            f"another -o")


def same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _report_nan(stats) -> None:
    """Analyzers skip NaN and infinite values; say how many, per analyzer."""
    from .ops.scaling import skipped_text

    for key, report in sorted(stats.report.items()):
        nan, inf = report.get("nan_skipped", 0), report.get("inf_skipped", 0)
        if nan or inf:
            print(f"  {key}: skipped {skipped_text(nan, inf)} "
                  f"of {nan + inf + report.get('values', 0):,}")


def _check(args) -> int:
    lazy.import_tensorflow()
    from . import compiler
    from .testing.check import check_spec

    source = compiler.read_spec(args.spec)
    graph = compiler.check_source(source, args.spec)
    if not (args.data or args.stats):  # say what is needed before checking anything
        compiler.with_constants(graph, source, args.spec, None, how=(
            "give 'skewless check' --data FILES (training data to compute them from) or "
            "--stats FILE (written by 'skewless analyze')"))
    print(f"{args.spec}: spec is valid ({len(graph.features)} features, "
          f"{len(graph.targets)} targets)")
    return check_spec(args.spec, data=list(args.data), stats=args.stats,
                      examples=args.examples, seed=args.seed)


def _fmt(args) -> int:
    """Format each file; with --check or --diff print diffs instead of writing. Exit status
    1 if a file could not be read or parsed (its diagnostics are printed, the file left as
    it was), or, with --check, if a file is not formatted."""
    from .files import read_spec, write_atomic
    from .fmt import format_source

    rewrite = not (args.check or args.diff)
    changed, unchanged, failed = 0, 0, 0
    for path in _feat_files(args.files):
        try:
            if not os.path.isfile(path):  # a FIFO would block, a device never end
                raise SkewlessError(f"{path}: not a regular file" if os.path.exists(path)
                                    else f"{path}: no such file")
            formatted = format_source(read_spec(path), path)
            with open(path, "rb") as handle:  # as it is, line ends included
                original = handle.read().decode("utf-8")
            if formatted == original:
                unchanged += 1
                continue
            if rewrite:
                target = os.path.realpath(path)  # a link stays a link to the formatted file
                mode = os.stat(target).st_mode & 0o7777
                if not mode & 0o222 or not os.access(target, os.W_OK):  # root writes anyway
                    raise SkewlessError(f"{path}: is read-only: not rewritten")
                write_atomic(target, formatted, mode=mode)
                print(f"reformatted {path}")
            else:
                sys.stdout.writelines(_diff(path, original, formatted))
                print(f"would reformat {path}", file=sys.stderr)
            changed += 1
        except SkewlessError as exc:
            print(str(exc), file=sys.stderr)
            failed += 1
        except OSError as exc:
            print(f"{path}: {exc.strerror or exc}", file=sys.stderr)
            failed += 1
    done = "reformatted" if rewrite else "would be reformatted"
    print(f"{changed} file{'s' * (changed != 1)} {done}, {unchanged} unchanged"
          + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 1 if failed or (args.check and changed) else 0


def _feat_files(paths: list) -> list:
    """The files given, with each folder replaced by its .feat files, sorted, at any depth."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(str(found) for found in pathlib.Path(path).rglob("*.feat")
                            if found.is_file())
        else:
            files.append(path)
    return files


def _diff(path: str, original: str, formatted: str) -> list:
    """A unified diff from the file to its formatted text, as ``black --diff`` shows it."""
    lines = difflib.unified_diff(source_lines(original, keepends=True),
                                 source_lines(formatted, keepends=True),
                                 fromfile=f"{path} (original)", tofile=f"{path} (formatted)")
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines]


def _serve(args) -> int:
    lazy.import_tensorflow()
    from .serve import serve
    from .serve.batching import read_batching_parameters
    from .serve.limits import Limits
    from .serve.metrics import read_monitoring_config
    from .serve.model_config import models_to_serve

    limits = {name: getattr(args, name) for name in ("max_batch_size", "max_request_bytes",
                                                     "idle_timeout", "read_timeout",
                                                     "max_connections")
              if getattr(args, name) is not None}  # the server's defaults otherwise
    models = models_to_serve(args.model_config_file, args.model_name, args.export_dir_base,
                             args.model_base_path)
    batching = read_batching_parameters(args.batching_parameters_file) if \
        args.enable_batching or args.batching_parameters_file else None
    return serve(models, host=args.host, port=args.port, rest_port=args.rest_port,
                 limits=Limits(**limits), allow_version_labels_for_unavailable_models=(
                     args.allow_version_labels_for_unavailable_models), batching=batching,
                 monitoring_path=read_monitoring_config(args.monitoring_config_file),
                 request_log=cli_request_log.options(args))


if __name__ == "__main__":
    sys.exit(main())
