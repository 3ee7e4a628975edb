"""The HTTP-double fixtures, for the harness's own tests."""

from ansible_collections.glorious.flywheel.tests.doubles.fixtures import serve_double  # noqa: F401
