"""The drift report page (``skewless drift --format html``): its structure checked with an
HTML parser, and the page rendered by headless Chromium, whose DOM and screenshot are
checked: every column worst first, with the baseline's and the other data's plots.

Rendering needs Chromium, which pip does not install: without it those tests are skipped,
saying so (pytest's ``-ra`` prints the reason), unless ``SKEWLESS_TESTS_NEED_CHROMIUM`` is
set, as ``.ci/run`` sets it: then they fail."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

from skewless import cli, compiler, drift
from skewless.drift_page import INSTALL, page
from skewless.profile import Profile

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
BASELINE_BLUE, OTHER_ORANGE = (0x4c, 0x72, 0xb0), (0xdd, 0x84, 0x52)


def _numbers(counts, missing=0):
    return {"dtype": "float32", "shape": "", "examples": sum(counts) + missing,
            "missing": missing, "nan": 0, "inf": 0,
            "numbers": {"count": sum(counts), "histogram": {"edges": [1.0, 2.0, 3.0],
                                                            "counts": counts}}}


def _strings(top, distinct=None):
    total = sum(count for _, count in top)
    return {"dtype": "string", "shape": "", "examples": total, "missing": 0,
            "values": {"distinct": distinct or len(top), "exact": True,
                       "top": [list(pair) for pair in top]}}


def _report():
    """Three columns: one that moved a lot, one a little, one not at all; a value with
    markup in it."""
    baseline = Profile("page", "f", columns={"inputs": {
        "still": _numbers([5, 5, 5, 5]), "price": _numbers([10, 30, 30, 10]),
        "city": _strings([["a", 50], ["b", 50]])}, "features": {}})
    other = Profile("page", "f", columns={"inputs": {
        "still": _numbers([5, 5, 5, 5]), "price": _numbers([0, 5, 30, 45]),
        "city": _strings([["a", 45], ["b", 45], ["<b>new</b>", 10]])}, "features": {}})
    return drift.compare(baseline, other, baseline_name="train.json", other_name="serve.json")


class _Page(HTMLParser):
    """The sections (data-column), the elements each holds, and every attribute."""

    def __init__(self, text: str):
        super().__init__()
        self.sections, self.tags, self.attributes, self.texts = [], [], [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append({"column": attrs["data-column"], "tags": [], "texts": [],
                                  "exceeded": attrs["data-exceeded"]})
        elif self.sections:
            self.sections[-1]["tags"].append(tag)

    def handle_data(self, data):
        self.texts.append(data)
        if self.sections:
            self.sections[-1]["texts"].append(data.strip())


def test_the_page_lists_every_column_worst_first_with_both_plots():
    report = _report()
    found = _Page(page(report))
    assert [s["column"] for s in found.sections] == [c.name for c in report.columns]
    assert [s["column"] for s in found.sections] == ["price", "city", "still"]
    assert [s["exceeded"] for s in found.sections] == ["true", "true", "false"]
    for section in found.sections:
        assert section["tags"].count("svg") == 1
        assert {"baseline", "other"} <= set(section["texts"])
    assert "<b>new</b>" in found.sections[1]["texts"]  # shown as text, not markup
    assert "b" not in found.tags and "script" not in found.tags


def test_the_page_needs_nothing_from_the_network():
    found = _Page(page(_report()))
    for name, value in found.attributes:
        if name in ("src", "href", "xlink:href"):
            assert value.startswith("#"), (name, value)
    assert not {"script", "link", "img", "iframe"} & set(found.tags)


def test_the_page_is_deterministic():
    assert page(_report()) == page(_report())


def test_without_matplotlib_the_command_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises
    with pytest.raises(drift.SkewlessError, match=INSTALL.replace("[", r"\[")
                       .replace("]", r"\]")):
        page(_report())


@pytest.fixture(scope="module")
def chromium():
    """Chromium's program; without it the test is skipped saying how to install it, or
    fails where ``SKEWLESS_TESTS_NEED_CHROMIUM`` is set (CI)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = ("this test renders the report in headless Chromium, which is not "
                   "installed: apt-get install chromium (Debian, Ubuntu)")
        if os.environ.get("SKEWLESS_TESTS_NEED_CHROMIUM"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def _chromium(chromium, tmp_path, *options) -> subprocess.CompletedProcess:
    profile = tmp_path / f"chromium-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *options],
                          capture_output=True, text=True, timeout=120, check=True)


def test_chromium_renders_every_column_and_its_plots(chromium, tmp_path):
    report_page = tmp_path / "report.html"
    report_page.write_text(page(_report()), encoding="utf-8")
    dom = _chromium(chromium, tmp_path, "--dump-dom", report_page.as_uri()).stdout
    rendered = _Page(dom)
    assert [s["column"] for s in rendered.sections] == ["price", "city", "still"]
    assert all(s["tags"].count("svg") == 1 for s in rendered.sections)
    assert "2 of 3 columns past a threshold" in " ".join(rendered.texts)

    shot = tmp_path / "shot.png"
    _chromium(chromium, tmp_path, "--window-size=1000,2400", f"--screenshot={shot}",
              report_page.as_uri())
    from matplotlib import image

    pixels = np.round(image.imread(str(shot))[..., :3] * 255).astype(int)
    for color in (BASELINE_BLUE, OTHER_ORANGE):  # the bars of both sides were drawn
        bars = np.all(np.abs(pixels - color) <= 2, axis=-1)
        assert bars.sum() > 2000, color


def test_the_command_writes_the_page(tmp_path, capsys):
    spec = tmp_path / "page.feat"
    spec.write_text("spec page\ninput price: float32\ninput still: float32\n"
                    "input city: string\nfeature price\n")
    report = _report()
    fingerprint = compiler.check_file(str(spec)).fingerprint()
    profiles = {}
    for side in (0, 1):
        columns = {c.name: c.profiles[side] for c in report.columns}
        path = tmp_path / f"side{side}.json"
        path.write_text(Profile("page", fingerprint, columns={"inputs": columns, "features": {}})
                        .to_json())
        profiles[side] = str(path)
    out = tmp_path / "report.html"
    status = cli.main(["drift", str(spec), "--baseline", profiles[0], "--profile", profiles[1],
                       "--format", "html", "-o", str(out)])
    assert status == 1, capsys.readouterr().err
    assert [s["column"] for s in _Page(out.read_text()).sections] == ["price", "city", "still"]
