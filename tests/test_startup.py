"""Commands that read no data never import TensorFlow: checking and compiling a spec starts
in a fraction of a second (TensorFlow's import alone takes seconds)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from hypothesis import given, settings, strategies as st
from skewless_test_helpers import FLIGHTS, QUIET

from skewless.ops.registry import all_ops
from skewless.testing import spec_sources

SPEC = """\
spec plain
input x: float32 = 0.0
input s: string = ""
input tags: string[]
label y: float32
feature a = x | fill_nan(0) | clip(-5, 5) | log1p
feature b = hash(s, buckets=100)
feature c = tags | lower | lookup(vocabulary=[{tokens}], oov_buckets=1) | pad(length=3, value=-1)
feature d = bucketize(x, boundaries=[0, 1.5, 3])
target t = y
"""


def run_without_tensorflow(code: str, cwd, blocked=("tensorflow", "keras")) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where importing TensorFlow (or other ``blocked``
    packages) fails loudly."""
    prelude = textwrap.dedent(f"""\
        import sys
        class Blocked:
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in {tuple(blocked)!r}:
                    raise ImportError(f"{{name}} was imported")
        sys.meta_path.insert(0, Blocked())
        """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_compile_and_check_without_data_do_not_import_tensorflow(tmp_path):
    # 1,200 tokens: the vocabulary is written as an asset file, which takes no TensorFlow either
    tokens = ", ".join(f'"t{i}"' for i in range(1200))
    (tmp_path / "plain.feat").write_text(SPEC.format(tokens=tokens), encoding="utf-8")
    result = run_without_tensorflow("""
        from skewless.cli import main
        assert main(["compile", "plain.feat", "-o", "plain_features.py"]) == 0
        assert main(["compile", "plain.feat", "-o", "plain_features.py", "--check"]) == 0
        import skewless
        skewless.check_file("plain.feat")
        assert "tensorflow" not in sys.modules
        # nor what reading data, describing a spec or comparing profiles needs
        for module in ("skewless.analyze.local", "skewless.runtime", "skewless.records",
                       "skewless.csv_records", "skewless.describe", "socket", "logging"):
            assert module not in sys.modules, module
        print("no tensorflow")
        """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no tensorflow" in result.stdout
    assert (tmp_path / "plain_features.py").exists()
    assert list((tmp_path / "plain_features_assets").iterdir())


def test_spec_errors_are_reported_without_tensorflow(tmp_path):
    (tmp_path / "bad.feat").write_text("input x: float32\nfeature y = nosuch(x)\n")
    result = run_without_tensorflow("""
        from skewless.cli import main
        sys.exit(main(["compile", "bad.feat"]))
        """, tmp_path)
    assert result.returncode == 1
    assert "bad.feat:2:13: error:" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_spec_with_analyzers_is_checked_without_tensorflow(tmp_path):
    result = run_without_tensorflow(f"""
        import skewless
        graph = skewless.check_file({str(FLIGHTS / "flights.feat")!r})
        assert graph.missing_constants()
        assert "tensorflow" not in sys.modules
        """, tmp_path)
    assert result.returncode == 0, result.stderr


def test_fmt_and_version_import_neither_tensorflow_nor_numpy(tmp_path):
    (tmp_path / "plain.feat").write_text(SPEC.format(tokens='"a"').replace(" = ", "="),
                                         encoding="utf-8")
    result = run_without_tensorflow("""
        from skewless.cli import main
        assert main(["fmt", "--check", "plain.feat"]) == 1
        assert main(["fmt", "plain.feat"]) == 0
        assert main(["fmt", "--check", "plain.feat"]) == 0
        try:
            main(["--version"])
        except SystemExit as exit:
            assert exit.code == 0
        print("neither")
        """, tmp_path, blocked=("tensorflow", "keras", "numpy"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("--- plain.feat (original)")
    assert result.stdout.endswith("reformatted plain.feat\nskewless 0.1.0\nneither\n")


def test_explain_and_graph_without_data_do_not_import_tensorflow(tmp_path):
    (tmp_path / "plain.feat").write_text(SPEC.format(tokens='"a", "b"'), encoding="utf-8")
    result = run_without_tensorflow("""
        from skewless.cli import main
        assert main(["explain", "plain.feat"]) == 0
        assert main(["explain", "plain.feat", "--format", "json"]) == 0
        for output in ("plain.dot", "plain.mmd", "plain.svg"):
            assert main(["graph", "plain.feat", "-o", output]) == 0
        assert "tensorflow" not in sys.modules
        print("no tensorflow")
        """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("no tensorflow\n")
    assert "OUTPUT" in result.stdout and '"outputs": [' in result.stdout
    assert (tmp_path / "plain.svg").read_bytes().lstrip().startswith(b"<?xml")


NO_ANALYZER = sorted(name for name, op in all_ops().items() if op.analyzer is None)


@settings(max_examples=4, deadline=None, suppress_health_check=QUIET)
@given(st.data())
def test_no_functions_type_rule_or_code_imports_tensorflow(tmp_path_factory, data):
    """Every registered function, with drawn arguments: a spec calling each is checked, and
    one calling each function without an analyzer compiled (and --check'ed), in an
    interpreter where importing TensorFlow fails (a function's type rule that needed it,
    as the regular expression checks once did, would make compile take seconds)."""
    folder = tmp_path_factory.mktemp("every_function")
    (folder / "all.feat").write_text(data.draw(spec_sources(every_op=True), label="all"),
                                     encoding="utf-8")
    (folder / "plain.feat").write_text(
        data.draw(spec_sources(every_op=True, ops=NO_ANALYZER), label="plain"), encoding="utf-8")
    result = run_without_tensorflow("""
        import skewless
        from skewless.cli import main
        skewless.check_file("all.feat")
        assert main(["compile", "plain.feat", "-o", "plain_features.py"]) == 0
        assert main(["compile", "plain.feat", "-o", "plain_features.py", "--check"]) == 0
        assert "tensorflow" not in sys.modules
        print("no tensorflow")
        """, folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("no tensorflow\n")
