"""A plain, non-editable install works: the wheel holds every package and the grammar, and
the installed copy (not the source tree) checks and compiles a spec.

The wheel is built from a copy of the sources, so the build leaves nothing in the working
tree; it is installed with ``pip install --target`` and run by this venv's interpreter from a
directory outside the repository, with the target first on the path. (A fresh
``--system-site-packages`` venv would not see TensorFlow: this venv itself is not a system
site.)"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "skewless", "grammar")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("build")
    source = root / "src"
    source.mkdir()
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        elif path.exists():
            shutil.copy2(path, source / name)
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(dist), str(source)],
                   check=True, capture_output=True, text=True)
    (built,) = dist.glob("skewless-*.whl")
    return built


def test_the_wheel_holds_the_grammar_and_every_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "skewless/grammar/skewless.lark" in names
    grammar = zipfile.ZipFile(wheel).read("skewless/grammar/skewless.lark").decode("utf-8")
    assert grammar == (REPO / "grammar" / "skewless.lark").read_text(encoding="utf-8")
    packages = sorted(str(p.parent.relative_to(REPO)) for p in (REPO / "skewless").rglob("__init__.py")
                      if "__pycache__" not in p.parts)
    for package in packages:
        assert f"{package}/__init__.py" in names, f"package {package} is not in the wheel"
    modules = sorted(str(p.relative_to(REPO)) for p in (REPO / "skewless").rglob("*.py")
                     if "__pycache__" not in p.parts)
    missing = [m for m in modules if m not in names]
    assert missing == []
    entry_points = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert "skewless = skewless.cli:main" in entry_points


def test_the_installed_package_works_outside_the_repository(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True)
    assert (target / "skewless" / "grammar" / "skewless.lark").is_file()
    work = tmp_path / "work"
    work.mkdir()
    (work / "s.feat").write_text(
        "input distance: int64\ninput carrier: string\nlabel y: float32\n"
        "feature d = log1p(distance) | clip(0, 5)\nfeature c = lower(carrier)\ntarget t = y\n",
        encoding="utf-8")
    script = textwrap.dedent(f"""
        import pathlib, sys
        import skewless
        from skewless.cli import main
        assert pathlib.Path(skewless.__file__).is_relative_to({str(target)!r}), skewless.__file__
        graph = skewless.check_source(open("s.feat").read(), "s.feat")
        assert list(graph.features) == ["d", "c"], graph.features
        try:
            skewless.check_source("feature x = log1p(\\n", "bad.feat")
        except skewless.SpecError as exc:
            assert str(exc).startswith("bad.feat:1:19: error: "), str(exc)
        else:
            raise AssertionError("no SpecError")
        assert main(["compile", "s.feat", "-o", "s_features.py"]) == 0
        import s_features
        assert s_features.FEATURE_KEYS == ("d", "c")
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], cwd=work, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
    assert str(REPO) not in result.stdout


def test_pygments_finds_the_feat_lexer_of_the_installed_package(wheel, tmp_path):
    """The ``pygments.lexers`` entry point, read by Pygments' own plugin discovery from the
    installed wheel's metadata: by name, by file name and from ``pygmentize`` (``python -m
    pygments``), with and without ``-l feat``."""
    entry_points = zipfile.ZipFile(wheel).read(next(
        n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))).decode()
    assert "[pygments.lexers]\nfeat = skewless.highlight:FeatLexer" in entry_points
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q",
                    "--target", str(target), str(wheel)],
                   check=True, capture_output=True, text=True)
    work = tmp_path / "work"
    work.mkdir()
    (work / "s.feat").write_text('input x: int64  # a\nfeature y = log1p(x)\n', encoding="utf-8")
    script = textwrap.dedent(f"""
        import pathlib
        from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
        lexer = get_lexer_by_name("feat")
        assert type(lexer).__module__ == "skewless.highlight", type(lexer)
        module = __import__("skewless.highlight").highlight
        assert pathlib.Path(module.__file__).is_relative_to({str(target)!r}), module.__file__
        assert type(get_lexer_for_filename("flights.feat")) is type(lexer)
        print("ok")
    """)
    env = dict(os.environ, PYTHONPATH=str(target))
    found = subprocess.run([sys.executable, "-c", script], cwd=work, env=env,
                           capture_output=True, text=True, timeout=120)
    assert found.returncode == 0, found.stderr[-3000:]
    assert found.stdout.strip() == "ok"
    for options in (["-l", "feat"], []):
        shown = subprocess.run([sys.executable, "-m", "pygments", *options, "-f", "raw", "s.feat"],
                               cwd=work, env=env, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr[-3000:]
        lines = shown.stdout.splitlines()
        for line in ("Token.Keyword.Declaration\t'input'", "Token.Keyword.Type\t'int64'",
                     "Token.Comment.Single\t'# a'", "Token.Name.Builtin\t'log1p'"):
            assert line in lines, shown.stdout
