"""``skewless explain``: what a spec computes, as an aligned table or as JSON (made by
:mod:`skewless.explain`, imported when the command runs)."""
from __future__ import annotations

import json
import sys


def add_parser(commands) -> None:
    from .cli import constants_arguments

    explain = commands.add_parser(
        "explain", help="describe every output and raw column of a spec: types, shapes, what "
                        "each reads, analyzers and their constants", examples="""\
  skewless explain flights.feat
  skewless explain flights.feat --stats flights.stats.json --format json""")
    explain.add_argument("spec", help="the .feat file")
    constants_arguments(explain)
    explain.add_argument("--format", choices=("table", "json"), default="table",
                         help="'table' (default): aligned text for people; 'json': one "
                              "document for programs (see docs/usage.md)")
    explain.set_defaults(run=run)


def run(args) -> int:
    from .describe import describe
    from .explain import table, to_json

    description = describe(args.spec, stats=args.stats, data=args.data)
    if args.format == "json":
        text = json.dumps(to_json(description), indent=2, ensure_ascii=False)
    else:
        text = table(description)
    sys.stdout.write(text + "\n")
    return 0
