"""The unit folder stays fast: a unit test that spends more than CPU_LIMIT seconds of this
process's CPU time in its set-up or its body fails, with the figure. CPU time, not wall time,
so a busy machine does not fail it. The limit is generous: the first test to import spaCy,
torch or scikit-learn pays for the import, and no phase of any unit test used 2 s (the whole
folder passes with NLP_TEST_CPU_LIMIT=2). A test that needs more belongs in
tests/integration, marked slow (slow tests are not held to the limit). $NLP_TEST_CPU_LIMIT
changes the limit (0 turns the check off)."""
from __future__ import annotations

import os
import time

import pytest

CPU_LIMIT = float(os.environ.get("NLP_TEST_CPU_LIMIT", "5"))


def _over_limit(item: pytest.Item, phase: str, spent: float) -> None:
    if CPU_LIMIT > 0 and spent > CPU_LIMIT and item.get_closest_marker("slow") is None:
        pytest.fail(f"{phase} used {spent:.1f} s of CPU time, over the unit folder's "
                    f"{CPU_LIMIT:g} s: make it smaller, or move it to tests/integration "
                    f"marked slow.", pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    start = time.process_time()
    result = yield
    _over_limit(item, "set-up", time.process_time() - start)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    start = time.process_time()
    result = yield
    _over_limit(item, "the test", time.process_time() - start)
    return result
