"""The unit folder's CPU-time guard (tests/unit/conftest.py) fails a test over its limit, keeps
slow-marked tests and quick tests passing, and counts CPU time, not time asleep."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")

TESTS = '''
import time
import pytest

def burn(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass

def test_quick():
    burn(0.01)

def test_asleep():
    time.sleep(0.4)  # wall time, not CPU time

def test_busy():
    burn(0.3)

@pytest.mark.slow
def test_busy_but_slow():
    burn(0.3)

@pytest.fixture
def busy_fixture():
    burn(0.3)

def test_busy_set_up(busy_fixture):
    pass
'''


def test_a_test_over_the_cpu_limit_fails_and_the_rest_pass(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "test_inner.py").write_text(TESTS, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow: slow\n")
    env = {**os.environ, "NLP_TEST_CPU_LIMIT": "0.15", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rfE", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                         env=env, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "FAILED test_inner.py::test_busy - Failed: the test used" in text
    assert "ERROR test_inner.py::test_busy_set_up - Failed: set-up used" in text
    assert "1 failed, 3 passed, 1 error" in text, text  # quick, asleep, slow-marked
