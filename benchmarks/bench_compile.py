"""Compile time and import time, as fresh processes: ``python -m skewless compile`` of a
500-feature spec without analyzers (``make_wide_spec.py``) beside ``python -c pass`` (the
interpreter's own start-up), and ``import wide_features`` (the generated module) beside
``import tensorflow``.

skewless's modules are byte-compiled first, as pip does when it installs a package: from a
checkout with ``PYTHONDONTWRITEBYTECODE`` set, every fresh process would compile them from
source again (0.1 s of a compile's 0.5 s on a slow machine)."""
from __future__ import annotations

import compileall
import sys

from data import ROOT, child_env
from make_wide_spec import write_wide_spec
from timing import alternate, comparison, fresh_process


def run(settings) -> list:
    folder = settings.workdir / "wide"
    folder.mkdir()
    spec = write_wide_spec(folder / "wide.feat")
    output = folder / "wide_features.py"
    env, python = child_env(), sys.executable
    compileall.compile_dir(str(ROOT / "skewless"), quiet=1)
    compile_times = alternate({
        "compile": fresh_process([python, "-m", "skewless", "compile", str(spec), "-o",
                                  str(output)], env=env),
        "pass": fresh_process([python, "-c", "pass"], env=env),
    }, settings.process_rounds, warmup=settings.process_warmup)
    import_times = alternate({
        "module": fresh_process([python, "-c", "import wide_features"], cwd=str(folder), env=env),
        "tensorflow": fresh_process([python, "-c", "import tensorflow"], cwd=str(folder),
                                    env=env),
    }, settings.process_rounds, warmup=settings.process_warmup)
    return [
        comparison("compile a 500-feature spec, no analyzers (fresh process)",
                   compile_times["compile"], compile_times["pass"],
                   ours_label="skewless compile", theirs_label="python -c pass",
                   target="< 0.5 s wall, absolute",
                   notes={"spec": "500 features over 300 columns (make_wide_spec.py)"}),
        comparison("import the generated 500-feature module (fresh process)",
                   import_times["module"], import_times["tensorflow"],
                   ours_label="import wide_features", theirs_label="import tensorflow",
                   target="(reported)"),
    ]
