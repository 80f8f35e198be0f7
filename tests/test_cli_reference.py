"""docs/cli.md is the command-line reference written from the argument parsers
(skewless/cli_reference.py): it must be exactly what they give now."""
from pathlib import Path

from skewless import cli, cli_reference

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_docs_cli_md_is_the_parsers_reference():
    expected = cli_reference.reference(cli._parser())
    assert PAGE.read_text(encoding="utf-8") == expected, (
        f"docs/cli.md differs from the command's parsers; run: {cli_reference.COMMAND}")


def test_every_subcommand_and_option_is_in_the_reference():
    page = cli_reference.reference(cli._parser())
    for command in ("compile", "analyze", "check", "serve", "fmt", "convert"):
        assert f"\n## skewless {command}\n" in page
    for option in ("`--max-batch-size MAX_BATCH_SIZE`", "`--runner {local,beam}`",
                   "`--compression {auto,GZIP,ZLIB,none}`", "`--check`", "`--version`"):
        assert option in page


def test_a_new_option_changes_the_reference():
    parser = cli._parser()
    before = cli_reference.reference(parser)
    compile_ = cli_reference._subcommands(parser)["compile"][0]
    compile_.add_argument("--shiny", choices=("a", "b"), required=True, help="a | b")
    after = cli_reference.reference(parser)
    assert before != after
    assert "| `--shiny {a,b}` | (required) a \\| b |" in after
    assert "skewless compile [-o OUTPUT]" in after and "--shiny {a,b} " in after
