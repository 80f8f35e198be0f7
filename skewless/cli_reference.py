"""The command-line reference, docs/cli.md, written from the ``skewless`` command's own
argument parsers, so that it cannot drift from them.

    python -m skewless.cli_reference > docs/cli.md

The page is built from each parser's arguments (names, metavars, choices, help, whether
required) rather than from argparse's formatted help, whose layout changes between Python
versions; tests/test_cli_reference.py checks that docs/cli.md is this output."""
from __future__ import annotations

import argparse
import sys

COMMAND = "python -m skewless.cli_reference > docs/cli.md"


def reference(parser: argparse.ArgumentParser) -> str:
    """The Markdown page for ``parser`` (the ``skewless`` parser) and its subcommands."""
    lines = ["# Command-line reference", "",
             f"<!-- Written by `{COMMAND}` from the command's argument parsers; "
             "edit those, not this file. -->", "",
             parser.description, "",
             "The examples of each command are shown as text here; the tutorial and the usage "
             "guide run commands like them on the bundled example.", ""]
    commands = _subcommands(parser)
    lines += ["| command | what it does |", "|---|---|"]
    lines += [f"| [`{name}`](#skewless-{name}) | {_cell(help_)} |"
              for name, (_, help_) in commands.items()]
    lines += ["", "Options of `skewless` itself:", ""]
    lines += _arguments_table(parser)
    for name, (sub, _) in commands.items():
        lines += ["", f"## skewless {name}", "", sub.description, "", "```text",
                  _usage(f"skewless {name}", sub), "```", ""]
        lines += _arguments_table(sub)
        if sub.epilog:
            lines += ["", "```text", sub.epilog.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _subcommands(parser: argparse.ArgumentParser) -> dict:
    """Subcommand name -> (its parser, its one-line help), in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            return {name: (sub, helps.get(name, "")) for name, sub in action.choices.items()}
    return {}


def _usage(prog: str, parser: argparse.ArgumentParser) -> str:
    """One usage line: options in brackets unless required, then the positionals."""
    options, positionals = [], []
    for action in _documented(parser):
        if action.option_strings:
            text = _invocation(action, action.option_strings[0])
            options.append(text if action.required else f"[{text}]")
        else:
            positionals.append(_invocation(action, None))
    return " ".join([prog, *options, *positionals])


def _arguments_table(parser: argparse.ArgumentParser) -> list[str]:
    rows = ["| argument | meaning |", "|---|---|"]
    for action in _documented(parser):
        if action.option_strings:
            names = ", ".join(f"`{_invocation(action, option)}`"
                              for option in action.option_strings)
        else:
            names = f"`{_invocation(action, None)}`"
        meaning = action.help or ""
        if action.required and action.option_strings:
            meaning = f"(required) {meaning}"
        rows.append(f"| {names} | {_cell(meaning)} |")
    return rows


def _documented(parser: argparse.ArgumentParser) -> list:
    """The arguments a user gives: not --help, not suppressed ones, not subcommands."""
    return [action for action in parser._actions
            if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
            and action.help != argparse.SUPPRESS]


def _invocation(action: argparse.Action, option) -> str:
    """``-o OUTPUT``, ``--runner {local,beam}``, ``SPEC``, ``CSV [CSV ...]``."""
    if action.nargs == 0:
        return option
    if action.metavar is not None:
        metavar = action.metavar
    elif action.choices is not None:
        metavar = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        metavar = action.dest.upper()
    if action.nargs == "?":
        value = f"[{metavar}]"
    elif action.nargs == "*":
        value = f"[{metavar} ...]"
    elif action.nargs == "+":
        value = f"{metavar} [{metavar} ...]"
    else:
        value = metavar
    if not option:
        return value
    return f"{option} {value}"


def _cell(text: str) -> str:
    """Help text as one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def main() -> int:
    from .cli import _parser

    sys.stdout.write(reference(_parser()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
