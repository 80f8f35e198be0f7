"""Every fenced code block of README.md and docs/*.md runs, as its info string says.

| info string | what the test does |
|---|---|
| ```` ```feat [FILE] ```` | a whole spec: compiled with ``skewless.check_source``; with a file name, also written to that file for the page's later blocks |
| ```` ```feat fragment ```` | part of a spec (fmt's layout examples): ``skewless fmt`` leaves it as it is |
| ```` ```sh ```` | run by ``bash -e -o pipefail`` in the page's prepared folder |
| ```` ```python ```` | executed, the page's blocks in order sharing one namespace, in that folder |
| ```` ```python standalone ```` | executed alone in a fresh interpreter (code that configures TensorFlow before it starts) |
| ```` ```python tft ```` | tf.Transform code shown for comparison: compiled as Python, not run (tensorflow_transform is not installed) |
| ```` ```json [FILE] ```` / ```` ```csv [FILE] ```` | parsed; with a file name, also written to that file for the page's later blocks |
| ```` ```text ```` | not run: output, diagrams, synopses, commands that need a network, a cloud project or a package install |

A block without an info string, or with another one, fails ``test_every_block_says_what_it_is``.

**The prepared folder.** Each page with ``sh`` or ``python`` blocks runs in its own copy of
a folder prepared once by the ``workspace`` fixture below, which holds what the docs assume:
the bundled example (``examples/``, and ``editors/``, as in the repository), ``flights.feat``
at the top with its data (``examples/flights/make_data.py``), its compiled module
``flights_features.py`` and stats file ``flights.stats.json``, a trained model exported to
``exports/flights``, a ``models.config`` serving it, a ``monitoring.config`` and ``flights.csv``. ``skewless``,
``python`` and ``python3`` on the ``PATH`` are this checkout's (with pyproject.toml's entry points), and ``HOME`` is a folder of
the copy; ``skewless`` commands run in the page runner's process, with the command's own
standard streams, folder and environment (``tests/docs_commands.py``: TensorFlow is imported
once per page, not once per command). ``skewless check`` tries 3 generated batches (``--examples 3`` is appended), not
100, to keep the run short. ``skewless serve`` does not exit: there, ``bin/skewless`` starts it in the
background, returns once it serves, and the server is stopped before the next one starts
and at the end of the page. The docs' ports 8500 (gRPC) and 8501 (REST) are replaced in the
page's blocks by free ports, on the command line of ``skewless serve`` too.

A failure names the page and the line of the block's opening fence."""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import skewless
from skewless.fmt import format_source

from docs_blocks import KINDS, REPO, SERVER_PID, blocks, pages, with_ports

ALL = [block for page in pages() for block in blocks(page)]
RUN_PAGES = [page.relative_to(REPO).as_posix() for page in pages()
             if any(b.kind in ("sh", "python", "python standalone") for b in blocks(page))]


def _of(*kinds: str) -> list:
    return [pytest.param(b, id=b.where) for b in ALL if b.kind in kinds]


def test_every_block_says_what_it_is():
    unknown = [f"{b.where}: ```{b.info}" for b in ALL if not b.kind]
    assert not unknown, ("blocks need an info string, one of "
                         f"{sorted(KINDS)} (see tests/test_docs.py):\n" + "\n".join(unknown))


@pytest.mark.parametrize("block", _of("feat"))
def test_feat_block_compiles(block):
    try:
        skewless.check_source(block.text, f"{block.where} (```feat block)")
    except skewless.SpecError as error:
        pytest.fail(f"{block.where}: the spec does not compile:\n{error}")


@pytest.mark.parametrize("block", _of("feat fragment"))
def test_feat_fragment_is_formatted(block):
    assert format_source(block.text, block.where) == block.text, (
        f"{block.where}: not in fmt's canonical layout")


@pytest.mark.parametrize("block", _of("python tft"))
def test_tft_block_is_python(block):
    try:
        compile(block.numbered(), block.path, "exec")
    except SyntaxError as error:
        pytest.fail(f"{block.where}: {error}")


@pytest.mark.parametrize("block", _of("json"))
def test_json_block_parses(block):
    try:
        json.loads(block.text)
    except json.JSONDecodeError as error:
        pytest.fail(f"{block.where}: not JSON: {error}")


@pytest.mark.parametrize("block", _of("csv"))
def test_csv_block_parses(block):
    rows = list(csv.reader(io.StringIO(block.text), strict=True))
    widths = {len(row) for row in rows if row}
    assert len(widths) == 1, f"{block.where}: rows of different numbers of fields: {widths}"


# --- the prepared folder -------------------------------------------------------------------

SKEWLESS_WRAPPER = """\
#!/bin/bash
# The docs' `skewless`: this checkout's, run by the page runner (tests/docs_commands.py),
# which has imported TensorFlow once. `skewless serve` runs in the background on the
# page's ports (given last, they win) and this returns once it serves. `skewless check`
# tries 3 generated batches instead of its 100 (which take minutes on 2 cores); the records
# of --data are all checked.
if [ "$1" = check ]; then exec "$DOCS_PYTHON" -m docs_commands "$@" --examples 3; fi
if [ "$1" != serve ]; then exec "$DOCS_PYTHON" -m docs_commands "$@"; fi
"$DOCS_PYTHON" -c 'import docs_blocks; docs_blocks.stop_server()'
"$DOCS_PYTHON" -m skewless "$@" --port "$DOCS_GRPC_PORT" --rest-port "$DOCS_REST_PORT" \\
    > docs-server.log 2>&1 &
echo $! > {pid}
for _ in $(seq 600); do
    if grep -q "serving model" docs-server.log; then cat docs-server.log; exit 0; fi
    kill -0 $! 2>/dev/null || break
    sleep 0.1
done
cat docs-server.log; echo "skewless serve did not start" >&2; exit 1
""".replace("{pid}", SERVER_PID)

# What the docs assume beside the spec, made as a user would (run in the prepared folder).
PREPARE = """\
import sys
sys.path.insert(0, "examples/flights")
from make_data import write_dataset
from export import build_model, per_output_weights
from skewless import cli

write_dataset(".")                                  # train-0000{0,1}-of-00002.tfrecord
assert cli.main(["compile", "flights.feat", "--data", "train-*.tfrecord",
                 "-o", "flights_features.py"]) == 0
assert cli.main(["analyze", "flights.feat", "--data", "train-*.tfrecord",
                 "-o", "flights.stats.json"]) == 0

import skewless
import flights_features as ff

model = build_model(ff)                             # late (classify), delay (regress)
model.fit(ff.input_fn("train-*.tfrecord", batch_size=256).map(per_output_weights), verbose=0)
skewless.export_saved_model(model, ff, "exports/flights", heads={
    "late": skewless.ClassificationHead(output="late", class_names=["on_time", "late"]),
    "delay": skewless.RegressionHead(output="delay"),
    "predict": skewless.PredictHead(),
})
"""

MODELS_CONFIG = """\
model_config_list {
  config {
    name: "flights"
    base_path: "exports/flights"
    model_platform: "tensorflow"
  }
}
"""

MONITORING_CONFIG = """\
prometheus_config { enable: true, path: "/monitoring/prometheus/metrics" }
"""

FLIGHTS_CSV = """\
carrier,origin,dest,tailnum,distance,sched_dep_time,dep_delay,tags,position,arr_delay,importance
AA,JFK,LAX,N123AA,2475,1545,12.5,wifi|meal,40.64|-73.78,3.0,
DL,ATL,DFW,,732,905,,,33.64|-84.43,-4.0,2
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs") / "base"
    for name in ("examples", "editors"):          # the repository's folders the docs name
        shutil.copytree(REPO / name, folder / name,
                        ignore=shutil.ignore_patterns("data", "__pycache__"))
    shutil.copy(REPO / "examples/flights/flights.feat", folder / "flights.feat")
    # `python examples/flights/demo.py` writes the data and module to examples/flights/data
    (folder / "examples/flights/data").symlink_to(Path("..", ".."))
    (folder / "models.config").write_text(MODELS_CONFIG)
    (folder / "monitoring.config").write_text(MONITORING_CONFIG)
    (folder / "flights.csv").write_text(FLIGHTS_CSV)
    (folder / "home/.vscode/extensions").mkdir(parents=True)   # VS Code's, for docs/editors.md
    bin_ = folder / "bin"
    bin_.mkdir()
    (bin_ / "skewless").write_text(SKEWLESS_WRAPPER)
    for name in ("python", "python3"):
        (bin_ / name).write_text(f'#!/bin/sh\nexec "$DOCS_PYTHON" "$@"\n')
    for script in bin_.iterdir():
        script.chmod(0o755)
    _checkout_entry_points(folder / "site")
    done = subprocess.run([sys.executable, "-c", PREPARE], cwd=folder, env=_env(folder, 0, 0),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _checkout_entry_points(site: Path) -> None:
    """pyproject.toml's entry points (the `feat` lexer of `pygmentize -l feat`), as an
    installed skewless registers them, for this checkout run from its source tree. Python
    3.10 has no tomllib: there, the installed skewless's own entry points serve."""
    try:
        import tomllib
    except ImportError:
        return
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    info = site / "skewless_checkout-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: skewless-checkout\nVersion: 0\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        for group, points in project.get("entry-points", {}).items()))


def _env(folder: Path, grpc_port: int, rest_port: int) -> dict:
    env = dict(os.environ)
    env.update(
        PATH=os.pathsep.join([str(folder / "bin"), str(Path(sys.executable).parent),
                              env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), str(folder),
                                    str(folder / "site")]),
        HOME=str(folder / "home"), DOCS_PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="3",
        DOCS_GRPC_PORT=str(grpc_port), DOCS_REST_PORT=str(rest_port),
        PYTHONDONTWRITEBYTECODE="1")
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("page", RUN_PAGES)
def test_page_runs(page, workspace, tmp_path):
    folder = tmp_path / "page"
    shutil.copytree(workspace, folder, symlinks=True)
    grpc_port, rest_port = _free_port(), _free_port()
    runnable = [dataclass_dict(b, grpc_port, rest_port) for b in blocks(REPO / page)
                if b.kind in ("sh", "python", "python standalone") or b.file_name]
    (folder / "docs-blocks.json").write_text(json.dumps(runnable))
    done = subprocess.run([sys.executable, str(REPO / "tests/docs_blocks.py"), "docs-blocks.json"],
                          cwd=folder, env=_env(folder, grpc_port, rest_port),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=900)
    if done.returncode:
        failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED ")]
        pytest.fail(f"{failed[-1][7:] if failed else page}: the block fails "
                    f"(output below)\n{textwrap.indent(done.stdout[-6000:], '    ')}")


def dataclass_dict(block, grpc_port: int, rest_port: int) -> dict:
    return {"path": block.path, "line": block.line, "info": block.info,
            "text": with_ports(block.text, grpc_port, rest_port)}
