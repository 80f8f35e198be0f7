"""Generated code is data: whatever names a spec uses (Python's builtins and keywords, the
generated module's own names), whatever its file is called and whatever its strings hold,
the generated module imports, runs no code of the spec's, and computes bit for bit what
``skewless.load`` computes."""
from __future__ import annotations

import builtins
import keyword
import re
import subprocess
import sys

from hypothesis import HealthCheck, given, settings, strategies as st

from skewless.syntax import FLOAT_NAMES, KEYWORDS
from skewless.testing import assert_same_features
from skewless.testing.specs import render_literal
from skewless.types import DTYPES

from skewless_test_helpers import REPO, compile_both

MODULE_NAMES = [  # names the generated module defines, imports or uses
    "_ops", "_rt", "raw", "tf", "COLUMNS", "transform_features", "transform_targets",
    "SPEC_FINGERPRINT", "FEATURE_KEYS", "TARGET_KEYS", "LABEL_KEYS", "WEIGHT_KEY", "input_fn",
    "serving_input_receiver_fn", "raw_serving_input_receiver_fn", "keras_inputs",
    "RAW_FEATURE_SPEC", "SERVING_FEATURE_SPEC", "_features", "_table_v_a", "v_a", "v_a_2", "v1",
    "v3", "__file__", "__name__", "__builtins__", "float", "len",
]
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NAMES = sorted({name for name in dir(builtins) + keyword.kwlist + keyword.softkwlist + MODULE_NAMES
                if _NAME.match(name) and name not in KEYWORDS | set(FLOAT_NAMES) | set(DTYPES)})
FILE_NAME = st.one_of(
    st.sampled_from(['x""";__import__("os").system("touch PWNED");""".feat', "a\\b\\u0041.feat",
                     "'''.feat", "x\n\"\"\"\n.feat", "\\.feat"]),
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
            min_size=1, max_size=30).map(lambda s: s + ".feat")
    .filter(lambda s: len(s.encode("utf-8")) < 200),
)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def test_every_builtin_keyword_and_module_name_names_a_column_a_let_and_an_output(tmp_path):
    lets = "".join(f"let {name} = x + {i}\n" for i, name in enumerate(NAMES))
    outputs = "".join(f"feature {name} = {name}\n" for name in NAMES)
    text = f"spec print\ninput x: float32\n{lets}{outputs}"
    loaded, module = compile_both(text, tmp_path, "every_name")
    assert tuple(module.FEATURE_KEYS) == tuple(NAMES)
    assert_same_features(loaded, module, [{"x": 0.5}, {"x": -3.0}], batch_sizes=(None,))
    columns = "".join(f"input {name}: float32\n" for name in NAMES)
    sums = "".join(f"feature {name} = {name} * 2\n" for name in NAMES)
    loaded, module = compile_both(columns + sums, tmp_path, "every_column")
    record = {name: float(i) for i, name in enumerate(NAMES)}
    assert_same_features(loaded, module, [record], batch_sizes=(None,))


@st.composite
def hostile_specs(draw):
    """A spec whose names are drawn from NAMES (outputs may reuse column and let names),
    with arbitrary string literals, and records for it."""
    a, b, c, lab, l1, l2, spec = draw(st.lists(st.sampled_from(NAMES), min_size=7, max_size=7,
                                               unique=True))
    f1, f2, f3, f4, t = draw(st.lists(st.sampled_from(NAMES), min_size=5, max_size=5, unique=True))
    words = draw(st.lists(TEXT, min_size=3, max_size=3, unique=True))
    s1, s2, s3 = (render_literal(w) for w in words)
    text = (f"spec {spec}\ninput {a}: float32\ninput {b}: string\n"
            f"input {c}: int64[2] = [{draw(st.integers(-2**63, 2**63 - 1))}, 7]\n"
            f"label {lab}: float32\n"
            f"let {l1} = {a} * {draw(st.floats(-1e6, 1e6, width=32))!r} + 1\n"
            f"let {l2} = {b} | lookup([{s1}, {s2}], oov_buckets=1)\n"
            f"feature {f1} = {l1}\nfeature {f2} = {l2}\nfeature {f3} = {c} * 2\n"
            f"feature {f4} = cast({b} == {s3}, float32)\ntarget {t} = {lab}\n")
    records = [{a: 1.5, b: words[0], c: [1, -2], lab: 0.5},
               {a: -2.0, b: words[2], c: [2**62, 3], lab: 1.0},
               {a: 0.0, b: draw(TEXT), c: [0, 0], lab: -1.0}]
    return text, records


@settings(max_examples=max(5, settings.default.max_examples // 15), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(hostile_specs(), FILE_NAME)
def test_names_file_names_and_strings_never_break_the_module(tmp_path, report_cases, spec, file_name):
    report_cases("generated module: hostile names, file names and strings")
    text, records = spec
    folder = tmp_path / str(abs(hash((text, file_name))))
    loaded, module = compile_both(text, folder, "hostile", spec_file=file_name)
    assert file_name in module.__doc__
    assert not (folder / "PWNED").exists()
    assert_same_features(loaded, module, records, batch_sizes=(None,))


def test_a_file_name_with_code_is_not_run_when_the_module_is_imported(tmp_path):
    name = 'x""";__import__("os").system("touch PWNED");""".feat'
    (tmp_path / name).write_text("input x: float32\nfeature y = x\n", encoding="utf-8")
    out = tmp_path / "a\\b.py"
    env_path = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-m", "skewless", "compile", name, "-o", out.name],
                   cwd=tmp_path, env=env_path, check=True, capture_output=True)
    subprocess.run([sys.executable, "-c", "import runpy; runpy.run_path('a\\\\b.py')"],
                   cwd=tmp_path, env=env_path, check=True, capture_output=True)
    assert not (tmp_path / "PWNED").exists()
