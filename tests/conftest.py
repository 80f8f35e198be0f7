"""Test configuration: hypothesis profiles (``dev`` fast, ``ci`` thorough), chosen with
HYPOTHESIS_PROFILE; under CI (the CI variable set) the default is ``ci``."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=150, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


# ---- case counts in the test output ----------------------------------------------------------
# A generated-input test reports how many cases it ran: report_cases("name", n). The totals
# are printed after the run, also under ``pytest -q``.
import pytest  # noqa: E402

_CASES: dict[str, int] = {}


@pytest.fixture(scope="session")
def report_cases():
    """``report_cases(name, n)``: add ``n`` cases to the count printed under ``name``."""

    def report(name: str, n: int = 1) -> None:
        _CASES[name] = _CASES.get(name, 0) + n

    return report


def pytest_terminal_summary(terminalreporter):
    if _CASES:
        terminalreporter.write_sep("-", "generated cases")
        for name, count in sorted(_CASES.items()):
            terminalreporter.write_line(f"{name}: {count} cases")
