"""What users read: ``help(skewless)`` lists the public API with each name's documentation
(and ``import skewless`` still imports no TensorFlow); every command's ``--help`` ends with
examples; ``--version`` is the installed distribution's."""
from __future__ import annotations

import pydoc
from importlib import metadata

import pytest

import skewless
from skewless import cli

from test_startup import run_without_tensorflow

COMMANDS = ["compile", "analyze", "check", "serve", "fmt", "convert", "explain", "graph",
            "stats", "drift"]


def test_every_command_is_listed_here():
    subparsers = next(a for a in cli._parser()._actions if a.dest == "command")
    assert sorted(subparsers.choices) == sorted(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    examples = out[out.index("examples:"):]
    assert f"  skewless {command} " in examples


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"skewless {metadata.version('skewless')}\n"
    assert skewless.__version__ == metadata.version("skewless")


def test_help_lists_the_public_api_with_its_documentation():
    text = pydoc.render_doc(skewless, renderer=pydoc.plaintext)
    for name in skewless.__all__:
        assert name in text
        documentation = pydoc.getdoc(getattr(skewless, name))
        assert documentation, f"{name} has no docstring"
        assert documentation.splitlines()[0] in text
    assert "FUNCTIONS" in text and "CLASSES" in text


def test_import_lists_the_api_without_importing_tensorflow(tmp_path):
    result = run_without_tensorflow("""
        import skewless
        assert set(skewless.__all__) <= set(dir(skewless))
        for name in skewless.__all__:
            assert f"``{name}" in skewless.__doc__, name
        assert "tensorflow" not in sys.modules
        """, tmp_path)
    assert result.returncode == 0, result.stderr
