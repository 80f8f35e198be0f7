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


def pytest_terminal_summary(terminalreporter):
    """Cases per property (a case: one generated spec with one batch of generated records),
    printed even under -q, where hypothesis prints no statistics."""
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
