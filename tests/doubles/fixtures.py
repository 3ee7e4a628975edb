"""pytest fixtures for HTTP doubles.

Import them into a conftest.py::

    from ansible_collections.glorious.flywheel.tests.doubles.fixtures import (
        serve_double,  # noqa: F401
    )

or register this module once in the root conftest with ``pytest_plugins``.
"""

from __future__ import annotations

import pytest


@pytest.fixture
def serve_double():
    """Starts doubles for one test and stops them after it.

    ``serve_double(GitLab)`` instantiates and starts the class (keyword arguments go to
    its constructor); ``serve_double(instance)`` starts an instance. Returns the double.
    A test whose strict double got a request with no route, or whose handler raised,
    fails at teardown, so a missing route is never mistaken for an API answer
    (``strict=False`` for tests that probe unknown paths on purpose).
    """
    started = []

    def serve(double, **kwargs):
        if isinstance(double, type):
            double = double(**kwargs)
        double.start()
        started.append(double)
        return double

    yield serve
    problems = []
    for double in started:
        double.stop()
        if not double.strict:
            continue
        problems += [
            f"{type(double).__name__}: no route for {r.method} {r.path}"
            for r in double.unmatched()
        ]
        problems += [
            f"{type(double).__name__}: handler raised\n{e}" for e in double.errors
        ]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
