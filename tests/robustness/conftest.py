"""Robustness fixtures: the harness module holds them and the helpers the tests import
(`from harness import ...`; a module named conftest would clash with the other folders' conftest
when several folders run in one pytest call)."""
from harness import *  # noqa: F401,F403
from harness import filled, project  # noqa: F401  (fixtures, named for readers)
