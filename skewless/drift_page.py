"""The drift report as one self-contained HTML page (``skewless drift --format html``): a
summary table, then for every column, worst first, its measures and the baseline's and the
other data's distributions side by side, drawn by matplotlib as inline SVG (no script, no
request to the network: the page reads offline)."""
from __future__ import annotations

import html
import io
import warnings

from .drift import Report, bin_counts, bin_edges, value_shares
from .errors import SkewlessError

INSTALL = "pip install 'skewless[report]'"
# no date (the same report gives the same page), no creator, no RDF block
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
MOST_VALUES = 12  # values shown per categorical column, the most frequent in either side

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
.fail { color: #b00020; font-weight: bold; }
section { margin-top: 2em; border-top: 1px solid #888; }
svg { max-width: 100%; height: auto; }
"""


def page(report: Report) -> str:
    """The HTML page of ``report`` (a str). A SkewlessError saying how to install
    matplotlib when it is missing."""
    pyplot = _pyplot()
    parts = [f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>Drift: {_e(report.other)}</title><style>{_STYLE}</style></head><body>",
             f"<h1>Drift of {_e(report.other)} from {_e(report.baseline)}</h1>",
             f"<p id=\"summary\">{len(report.exceeded)} of {len(report.columns)} columns past "
             f"a threshold (spec {_e(report.spec)}).</p>", _summary(report)]
    for index, column in enumerate(report.columns):
        parts.append(_section(pyplot, index, column))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise SkewlessError(f"the HTML report draws with matplotlib, which is not installed: "
                            f"{INSTALL}") from None
    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "skewless"})
    from matplotlib import pyplot

    return pyplot


def _e(text) -> str:
    return html.escape(str(text))


def _summary(report: Report) -> str:
    rows = ["<table id=\"columns\"><tr><th>status</th><th>column</th><th>distance</th>"
            "<th>past its threshold</th></tr>"]
    for index, column in enumerate(report.columns):
        distance = column.measures["distance"]
        shown = "n/a" if distance.value is None else f"{distance.value:.4f}"
        rows.append(f"<tr><td class=\"{'fail' if column.exceeded else 'ok'}\">"
                    f"{'FAIL' if column.exceeded else 'ok'}</td>"
                    f"<td><a href=\"#column-{index}\">{_e(_title(column))}</a></td>"
                    f"<td>{distance.detail['type']} {shown}</td>"
                    f"<td>{_e(', '.join(column.exceeded))}</td></tr>")
    return "\n".join(rows + ["</table>"])


def _title(column) -> str:
    return f"{column.section[:-1]} {column.name}"


def _section(pyplot, index: int, column) -> str:
    rows = []
    for name, measure in column.measures.items():
        value = "n/a" if measure.value is None else f"{measure.value:.4f}"
        extra = ", ".join(f"{k}: {v}" for k, v in sorted(measure.detail.items())
                          if k != "type" and v not in (None, []))
        rows.append(f"<tr class=\"{'fail' if measure.exceeded else 'ok'}\"><td>{_e(name)}</td>"
                    f"<td>{value}</td><td>{measure.threshold:g}</td><td>{_e(extra)}</td></tr>")
    return (f"<section id=\"column-{index}\" data-column=\"{_e(column.name)}\" "
            f"data-section=\"{column.section}\" data-exceeded=\"{str(bool(column.exceeded)).lower()}\">"
            f"<h2>{_e(_title(column))} <small>({column.dtype}, {column.kind})</small></h2>"
            f"<table><tr><th>measure</th><th>value</th><th>threshold</th><th></th></tr>"
            f"{''.join(rows)}</table>{_figure(pyplot, column)}</section>")


def _figure(pyplot, column) -> str:
    """The two distributions side by side, as inline SVG."""
    base, other = column.profiles
    if column.kind == "linf":
        labels, sides = _top_values(base, other)
    else:
        labels, sides = _histogram_bins(base), [_shares(bin_counts(base)),
                                                _shares(bin_counts(other))]
    figure, axes = pyplot.subplots(1, 2, figsize=(10, 0.3 * len(labels) + 1.2), sharex=True)
    for axis, title, shares in zip(axes, ("baseline", "other"), sides):
        axis.barh(range(len(labels)), shares, color="#4c72b0" if title == "baseline"
                  else "#dd8452")
        axis.set_yticks(range(len(labels)), labels if axis is axes[0] else [""] * len(labels))
        axis.invert_yaxis()
        axis.set_title(title)
        axis.set_xlabel("share of values")
    text = io.StringIO()
    with warnings.catch_warnings():
        # text stays text in the SVG (svg.fonttype "none"): the browser's fonts draw it,
        # whatever glyphs matplotlib's own fonts lack
        warnings.filterwarnings("ignore", "Glyph .* missing from font", UserWarning)
        figure.tight_layout()
        figure.savefig(text, format="svg", metadata=_NO_METADATA)
    pyplot.close(figure)
    svg = text.getvalue()
    return svg[svg.index("<svg"):]


def _shares(counts: list) -> list:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def _histogram_bins(column: dict) -> list:
    edges = [f"{e:.4g}" for e in bin_edges(column)]
    if not edges:
        return ["all values", "NaN", "±inf"]
    return ([f"< {edges[0]}"] + [f"[{a}, {b})" for a, b in zip(edges, edges[1:])]
            + [f"≥ {edges[-1]}", "NaN", "±inf"])


def _top_values(base: dict, other: dict) -> tuple:
    """The most frequent values of either side (labels), and each side's shares of them."""
    p, q = value_shares(base), value_shares(other)
    values = sorted(set(p) | set(q), key=lambda v: (-max(p.get(v, 0), q.get(v, 0)), repr(v)))
    values = values[:MOST_VALUES]
    return [str(v) for v in values], [[p.get(v, 0.0) for v in values],
                                      [q.get(v, 0.0) for v in values]]
