"""The repository's .feat files that parse, for the tests of the highlighters: the examples',
the benchmarks' and the golden error files but those with syntax errors (which may hold text
the language has no token for). No TensorFlow here."""
from __future__ import annotations

import pathlib

REPO = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted([*REPO.glob("examples/**/*.feat"), *REPO.glob("benchmarks/**/*.feat"),
                *(p for p in REPO.glob("tests/golden/errors/*.feat")
                  if not p.name.startswith("syntax_"))])


def spec_id(path: pathlib.Path) -> str:
    return str(path.relative_to(REPO))
