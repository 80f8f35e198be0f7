"""``skewless convert``: CSV files to one TFRecord file of the tf.Examples their rows stand
for, typed by a spec's columns (see ``csv_records``)."""
from __future__ import annotations

import os

from . import lazy
from .errors import DataError, SkewlessError

OUTPUT_COMPRESSIONS = {"auto": None, "GZIP": "GZIP", "ZLIB": "ZLIB", "none": ""}


def add_parser(commands) -> None:
    convert = commands.add_parser(
        "convert", help="write the rows of CSV files as a TFRecord file of tf.Examples, "
                        "typed by a spec", examples="""\
  skewless convert flights.csv --spec flights.feat -o flights.tfrecord
  skewless convert 'part-*.csv.gz' --spec flights.feat -o train.tfrecord.gz""")
    convert.add_argument("data", nargs="+", metavar="CSV",
                         help="CSV files (globs): names ending in .csv or .csv.gz (GZIP)")
    convert.add_argument("--spec", required=True,
                         help="the .feat file whose columns say which fields to read and "
                              "their types")
    convert.add_argument("-o", "--output", required=True,
                         help="the TFRecord file to write (written whole or not at all)")
    convert.add_argument("--compression", choices=tuple(OUTPUT_COMPRESSIONS), default="auto",
                         help="of the output: 'auto' (default: GZIP when its name ends in "
                              ".gz, else none), 'GZIP', 'ZLIB' or 'none'")
    convert.set_defaults(run=run)


def run(args) -> int:
    """Write every row of the CSV files, in sorted file order, as a serialized tf.Example of
    the spec's columns (those the header names); the output is written atomically and
    never over one of the inputs. A bad row is a DataError naming its file, line and
    column, and nothing is written."""
    lazy.import_tensorflow()
    import tensorflow as tf

    from . import compiler
    from .cli import refuse_to_overwrite_inputs
    from .csv_records import examples, is_csv
    from .files import atomic_path, remove_stale_temporaries
    from .records import list_files

    files = list_files(args.data)
    for path in files:
        if not is_csv(path):
            raise SkewlessError(f"{path}: not a CSV file: convert reads files whose names end "
                                f"in .csv or .csv.gz")
    refuse_to_overwrite_inputs(args.output, args)
    graph = compiler.check_file(args.spec)
    compression = OUTPUT_COMPRESSIONS[args.compression]
    if compression is None:
        compression = "GZIP" if args.output.lower().endswith(".gz") else ""
    remove_stale_temporaries(os.path.dirname(os.path.abspath(args.output)))
    count = 0
    try:
        with atomic_path(args.output) as temporary:
            options = tf.io.TFRecordOptions(compression_type=compression)
            with tf.io.TFRecordWriter(temporary, options) as writer:
                for path in files:
                    for record, _ in examples(path, graph.columns):
                        writer.write(record)
                        count += 1
            if not count:  # the temporary file is dropped: nothing is written
                raise DataError(f"no records in {', '.join(files)}: nothing to convert")
    except (OSError, tf.errors.OpError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "message", None) or exc
        raise SkewlessError(f"cannot write {args.output}: {reason}") from None
    print(f"wrote {args.output}: {count:,} records from {len(files)} CSV "
          f"file{'s' * (len(files) != 1)}")
    return 0
