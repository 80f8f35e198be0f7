"""The request log options of ``skewless serve`` (``--request-log DIR`` and its settings)."""
from __future__ import annotations

import argparse
import functools
import math

from .errors import SkewlessError

# the defaults of skewless.serve.request_log: here, as importing skewless.serve imports
# TensorFlow, which parsing the command line must not
DEFAULT_MAX_LOG_BYTES = 64 * 2**20
DEFAULT_FLUSH_SECONDS = 60.0
_SETTINGS = ("sampling_rate", "max_log_bytes", "log_flush_seconds")


def add_arguments(serve) -> None:
    from .cli import whole_number

    serve.add_argument("--request-log", metavar="DIR",
                       help="log a sample of the Predict, Classify and Regress requests "
                            "answered, with their responses, in this folder: TFRecord files "
                            "of tensorflow.serving.PredictionLog, as TF Serving writes them "
                            "('skewless drift --request-log' reads them)")
    serve.add_argument("--sampling-rate", type=functools.partial(
                           _number, low=0, high=1, what="a sampling rate above 0 and at most 1"),
                       help="the chance each request is logged (default 1: every one)")
    serve.add_argument("--max-log-bytes", type=functools.partial(
                           whole_number, low=1, what="a number of bytes"),
                       help=f"a log file's size limit: a file is completed before it would "
                            f"grow past it (default {DEFAULT_MAX_LOG_BYTES}, 64 MiB)")
    serve.add_argument("--log-flush-seconds", type=functools.partial(
                           _number, low=0, high=10**6,
                           what="a number of seconds above 0 and below 1000000"),
                       help=f"a log file is completed this long after its first record at "
                            f"the latest, so that readers see recent requests (default "
                            f"{DEFAULT_FLUSH_SECONDS:g})")


def options(args):
    """The ``RequestLogOptions`` of the arguments, or None without ``--request-log``."""
    given = [name for name in _SETTINGS if getattr(args, name) is not None]
    if args.request_log is None:
        if given:
            raise SkewlessError(f"skewless serve: --{given[0].replace('_', '-')} needs "
                                f"--request-log DIR: the folder of the request log")
        return None
    from .serve.request_log import RequestLogOptions

    settings = {"sampling_rate": args.sampling_rate, "max_log_bytes": args.max_log_bytes,
                "flush_seconds": args.log_flush_seconds}
    return RequestLogOptions(args.request_log,
                             **{k: v for k, v in settings.items() if v is not None})


def _number(text: str, low: float, high: float, what: str) -> float:
    """A number above ``low`` and at most ``high``; an argparse error otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not low < value <= high:  # NaN included
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}")
    return value
