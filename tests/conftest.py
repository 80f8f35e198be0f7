"""Test configuration: hypothesis profiles (``dev`` quick, ``ci`` derandomized, ``thorough``
for long runs; see property_budget.py), chosen with HYPOTHESIS_PROFILE, ``ci`` by default
under CI (the CI variable set); and, at the end of the session, how many cases each
property ran."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from hypothesis import HealthCheck, settings  # noqa: E402

from property_budget import BUDGETS, CASES, PROFILE  # noqa: E402

QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("dev", max_examples=BUDGETS["dev"].max_examples, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=BUDGETS["ci"].max_examples, deadline=None,
                          print_blob=True, derandomize=True, database=None,
                          suppress_health_check=QUIET)
settings.register_profile("thorough", max_examples=BUDGETS["thorough"].max_examples,
                          deadline=None, print_blob=True, suppress_health_check=QUIET)
settings.load_profile(PROFILE)


# ---- case counts in the test output ----------------------------------------------------------
# A generated-input test reports how many cases it ran: report_cases("name", n). The totals
# are printed after the run, also under ``pytest -q``.
import pytest  # noqa: E402

_CASES: dict[str, int] = {}


@pytest.fixture(scope="module")
def quiet_tensorflow():
    """TensorFlow's Python warnings (retracing notices, AutoGraph) off for a module's tests:
    ``pytestmark = pytest.mark.usefixtures("quiet_tensorflow")``."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    yield
    logger.setLevel(level)


@pytest.fixture(scope="session")
def report_cases():
    """``report_cases(name, n)``: add ``n`` cases to the count printed under ``name``."""

    def report(name: str, n: int = 1) -> None:
        _CASES[name] = _CASES.get(name, 0) + n

    return report


def pytest_sessionfinish(session):
    """Under pytest-xdist, a worker hands its case counts to the controller, which prints them."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["skewless_cases"] = {"reported": dict(_CASES),
                                    "properties": {k: list(v) for k, v in CASES.items()}}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """The controller adds up the counts of each worker as it ends."""
    counts = getattr(node, "workeroutput", {}).get("skewless_cases")
    if not counts:
        return
    for name, count in counts["reported"].items():
        _CASES[name] = _CASES.get(name, 0) + count
    for name, (cases, specs) in counts["properties"].items():
        CASES[name][0] += cases
        CASES[name][1] += specs


def pytest_terminal_summary(terminalreporter):
    """Cases per generated-input test, printed even under -q, where hypothesis prints no
    statistics: those counted with ``report_cases``, and the skew properties' (a case: one
    generated spec with one batch of generated records), every worker's added up."""
    if _CASES:
        terminalreporter.write_sep("-", "generated cases")
        for name, count in sorted(_CASES.items()):
            terminalreporter.write_line(f"{name}: {count} cases")
    if not CASES:
        return
    write = terminalreporter.write_line
    write(f"property cases (hypothesis profile {PROFILE!r}):")
    functions = {name: value for name, value in CASES.items() if name.startswith("function ")}
    for name, (cases, specs) in sorted(CASES.items()):
        if name not in functions:
            write(f"  {name}: {cases} cases on {specs} specs")
    if functions:
        counts = sorted(cases for cases, _ in functions.values())
        write(f"  every function's skew property: {len(functions)} functions, {counts[0]} to "
              f"{counts[-1]} cases each ({sum(counts)} in all, on "
              f"{sum(specs for _, specs in functions.values())} specs)")
        write("    " + ", ".join(f"{name[9:]} {cases}" for name, (cases, _) in
                                  sorted(functions.items())))
