"""How many cases each property runs, by hypothesis profile, and the count of cases each
property did run (printed at the end of the session by conftest.py).

Profiles: ``dev`` (the default locally: small and quick), ``ci`` (the default when the CI
variable is set: derandomized, so a failure reproduces run after run), ``thorough`` (long
runs by hand: ``HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_function_skew.py``).
"""
from __future__ import annotations

import collections
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    max_examples: int  # hypothesis' examples for properties that do not set their own
    # generated specs that call one function, each traced once; hypothesis' first example is
    # its simplest (all choices minimal: zeros, empty strings), so one spec would not do
    specs_per_function: int
    batches_per_spec: int  # record batches run through one traced spec, the edge batch included
    load_vs_module_specs: int  # specs of the interpreter-versus-module property
    form_specs: int  # specs drawn, at most, to see every literal and name form


BUDGETS = {
    "dev": Budget(max_examples=25, specs_per_function=2, batches_per_spec=4,
                  load_vs_module_specs=60, form_specs=600),
    "ci": Budget(max_examples=150, specs_per_function=2, batches_per_spec=26,
                 load_vs_module_specs=1000, form_specs=600),
    "thorough": Budget(max_examples=1000, specs_per_function=20, batches_per_spec=100,
                       load_vs_module_specs=20_000, form_specs=5000),
}
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
BUDGET = BUDGETS[PROFILE]

# property -> [cases, specs]; a case is one spec with one batch of generated records
CASES: dict = collections.defaultdict(lambda: [0, 0])


def count(property_name: str, cases: int, specs: int = 1) -> None:
    CASES[property_name][0] += cases
    CASES[property_name][1] += specs
