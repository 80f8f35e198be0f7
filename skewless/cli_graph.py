"""``skewless graph``: draw a spec's dependency graph into an SVG, PNG, DOT or Mermaid file."""
from __future__ import annotations

import os

from .errors import SkewlessError


def add_parser(commands) -> None:
    graph = commands.add_parser(
        "graph", help="draw the dependency graph of a spec: raw columns -> lets -> features "
                      "and targets, labels and the weight apart", examples="""\
  skewless graph flights.feat -o flights.svg
  skewless graph flights.feat --stats flights.stats.json -o flights.png
  skewless graph flights.feat -o flights.mmd   # Mermaid text: needs no Graphviz""")
    graph.add_argument("spec", help="the .feat file")
    graph.add_argument("-o", "--output", required=True,
                       help="the file to write; its extension chooses the format: .svg or "
                            ".png (drawn by Graphviz's dot), .dot or .gv (Graphviz DOT "
                            "text), .mmd (a Mermaid flowchart)")
    graph.add_argument("--stats", help="a stats file written by 'skewless analyze': the "
                                       "analyzers' constants, shown on the graph")
    graph.set_defaults(run=run)


def run(args) -> int:
    from . import drawing
    from .describe import describe
    from .cli import refuse_to_overwrite_inputs
    from .files import remove_stale_temporaries, write_bytes_atomic

    refuse_to_overwrite_inputs(args.output, args)
    extension = os.path.splitext(args.output)[1].lower().lstrip(".")
    file_format = "dot" if extension == "gv" else extension
    if file_format not in drawing.FORMATS:
        raise SkewlessError(f"{args.output}: cannot tell the format from the extension: "
                            f"give -o FILE.svg, .png, .dot, .gv or .mmd")
    description = describe(args.spec, stats=args.stats)
    if file_format == "dot":
        data = drawing.dot_source(description).encode("utf-8")
    elif file_format == "mmd":
        data = drawing.mermaid_source(description).encode("utf-8")
    else:
        data = drawing.render(description, file_format)
    remove_stale_temporaries(os.path.dirname(os.path.abspath(args.output)))
    try:
        write_bytes_atomic(args.output, data)
    except OSError as exc:
        raise SkewlessError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    counts = ((len(description.columns), "raw column"), (len(description.lets), "let"),
              (len(description.outputs), "output"), (len(description.edges()), "edge"))
    print(f"wrote {args.output}: " + ", ".join(f"{n} {what}{'s' * (n != 1)}"
                                               for n, what in counts))
    return 0
