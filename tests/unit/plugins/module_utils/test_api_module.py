"""Connection options, client construction, failures and diffs shared by API modules.

Modules are real AnsibleModule instances fed through ansible-core's own
``patch_module_args``; their fail_json output is parsed from stdout.
"""

from __future__ import annotations

import contextlib
import json

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.glorious.flywheel.plugins.doc_fragments.api_connection import (
    ModuleDocFragment,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._api_module import (
    CONNECTION_OPTIONS,
    DiffTracker,
    api_errors,
    client_from_module,
    connection_argspec,
    fail_from_error,
    generate_argspec,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._http_client import (
    ApiClient,
    ApiError,
)

TOKEN = "glpat-0123456789abcdef"


@pytest.fixture
def make_module():
    """Builds an AnsibleModule from ARGS; the args stay patched in until the test ends,
    since fail_json/exit_json need them too."""
    with contextlib.ExitStack() as stack:

        def make(args, **spec_options):
            stack.enter_context(patch_module_args(args))
            return AnsibleModule(
                argument_spec=generate_argspec(**spec_options), supports_check_mode=True
            )

        yield make


def fail_result(capsys, call):
    with pytest.raises(SystemExit) as exited:
        call()
    assert exited.value.code == 1
    return json.loads(capsys.readouterr().out)


def test_argspec_has_the_connection_options_and_module_options_win():
    spec = generate_argspec(
        token_env="GITLAB_TOKEN",
        name={"type": "str", "required": True},
        timeout={"type": "int", "default": 90},
    )
    assert set(CONNECTION_OPTIONS) <= set(spec)
    assert spec["name"] == {"type": "str", "required": True}
    assert spec["timeout"]["default"] == 90
    assert spec["api_token"]["no_log"] is True
    assert spec["api_token"]["fallback"][1] == ["GITLAB_TOKEN"]
    assert spec["api_url"]["required"] is True
    assert spec["validate_certs"] == {"type": "bool", "default": True}


def test_argspec_with_url_default_is_not_required():
    spec = connection_argspec(url_default="https://api.github.com", token_required=True)
    assert spec["api_url"] == {"type": "str", "default": "https://api.github.com"}
    assert spec["api_token"]["required"] is True


def test_doc_fragment_mirrors_the_argspec():
    import yaml

    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = connection_argspec()
    assert set(documented) == set(spec) == set(CONNECTION_OPTIONS)
    for name, option in spec.items():
        assert documented[name]["type"] == option["type"], name
        assert documented[name].get("default") == option.get("default"), name
        assert bool(documented[name].get("required")) == bool(option.get("required")), (
            name
        )


def test_token_falls_back_to_the_module_environment_variable(make_module, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_TEST_TOKEN", TOKEN)
    module = make_module(
        {"api_url": "https://x.example"}, token_env="FLYWHEEL_TEST_TOKEN"
    )
    assert module.params["api_token"] == TOKEN
    assert TOKEN in module.no_log_values
    assert module.params["timeout"] == 30
    assert module.params["retries"] == 4


def test_required_url_can_come_from_its_environment_variable(make_module, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_TEST_URL", "https://from-env.example")
    module = make_module({}, url_env="FLYWHEEL_TEST_URL")
    assert module.params["api_url"] == "https://from-env.example"


def test_client_from_module_uses_params_and_auth_style(
    make_module, httpserver, monkeypatch
):
    httpserver.expect_request(
        "/api/v4/user", headers={"PRIVATE-TOKEN": TOKEN}
    ).respond_with_json({"id": 7})
    monkeypatch.setenv("FLYWHEEL_TEST_TOKEN", TOKEN)
    module = make_module(
        {"api_url": httpserver.url_for("/"), "timeout": 7, "retries": 0},
        token_env="FLYWHEEL_TEST_TOKEN",
    )

    client = client_from_module(module, auth_style="private_token")

    assert client.timeout == 7
    assert client.retries == 0
    assert client.get("/api/v4/user").body == {"id": 7}
    assert TOKEN not in repr(client)


def test_fail_from_error_is_actionable_and_scrubbed(make_module, httpserver, capsys):
    httpserver.expect_request("/api/v4/user/runners", method="POST").respond_with_json(
        {"message": f"403 Forbidden - token {TOKEN} lacks create_runner"}, status=403
    )
    module = make_module(
        {"api_url": httpserver.url_for("/"), "api_token": TOKEN, "retries": 0}
    )
    client = client_from_module(module, auth_style="private_token")

    def call():
        with api_errors(module, "Could not create the runner"):
            client.post("/api/v4/user/runners", json={"runner_type": "instance_type"})

    result = fail_result(capsys, call)

    assert result["failed"] is True
    assert result["status"] == 403
    assert result["method"] == "POST"
    assert result["url"] == httpserver.url_for("/api/v4/user/runners")
    assert result["msg"].startswith("Could not create the runner: POST ")
    assert "lacks create_runner" in result["msg"]
    assert "Check that api_token is valid" in result["msg"]
    assert TOKEN not in json.dumps(result)


def test_fail_from_error_scrubs_any_no_log_value(make_module, httpserver, capsys):
    secret = "registration-secret-42"
    httpserver.expect_request("/x").respond_with_json(
        {"message": f"bad {secret}"}, status=400
    )
    module = make_module(
        {"api_url": httpserver.url_for("/"), "secret": secret},
        secret={"type": "str", "no_log": True},
    )
    # A client that was not told about the secret: the error text carries it...
    with pytest.raises(ApiError) as raised:
        ApiClient(httpserver.url_for("/"), retries=0).get("/x")
    assert secret in str(raised.value)
    # ...and the module's failure does not.
    result = fail_result(capsys, lambda: fail_from_error(module, raised.value))
    assert secret not in json.dumps(result)
    assert result["status"] == 400


class RecordingModule:
    """Just enough of AnsibleModule to see what fail_from_error itself hands over
    (AnsibleModule.fail_json would mask no_log values again on its own)."""

    def __init__(self, no_log_values):
        self.no_log_values = set(no_log_values)
        self.failed_with = None

    def fail_json(self, **kwargs):
        self.failed_with = kwargs


def test_fail_from_error_scrubs_before_handing_over():
    error = ApiError(
        "DELETE",
        "https://forge.example/api/v1/runners/s3cr3t-runner-token",
        404,
        "runner s3cr3t-runner-token not found",
        reason="Not Found",
    )
    module = RecordingModule({"s3cr3t-runner-token"})
    fail_from_error(module, error, msg="Could not delete s3cr3t-runner-token")
    sent = json.dumps(module.failed_with)
    assert "s3cr3t-runner-token" not in sent
    assert module.failed_with["status"] == 404
    assert module.failed_with["method"] == "DELETE"
    assert (
        module.failed_with["url"] == "https://forge.example/api/v1/runners/<redacted>"
    )
    assert module.failed_with["msg"].startswith("Could not delete <redacted>: DELETE ")


def test_bad_url_fails_the_module(make_module, capsys):
    module = make_module({"api_url": "gitlab.example.com"})
    result = fail_result(capsys, lambda: client_from_module(module))
    assert "http:// or https://" in result["msg"]


# DiffTracker ---------------------------------------------------------------------


def test_diff_tracker_decides_changed_and_renders_diff():
    current = {
        "paused": False,
        "tag_list": ["b", "a"],
        "description": "old",
        "labels": {"x": "1", "y": "2"},
    }
    tracker = DiffTracker()

    assert tracker.compare("paused", False, current["paused"]) is False
    assert (
        tracker.compare("tag_list", ["a", "b", "a"], current["tag_list"], kind="set")
        is False
    )
    assert (
        tracker.compare("labels", {"x": "1"}, current["labels"], kind="subset") is False
    )
    assert tracker.compare("maximum_timeout", None, 3600) is False  # not managed
    assert tracker.changed is False
    assert tracker.diff() == {"before": {}, "after": {}}

    assert tracker.compare("description", "new", current["description"]) is True
    assert (
        tracker.compare("labels", {"x": "3"}, current["labels"], kind="subset") is True
    )
    assert tracker.compare("token", "s3cr3t-new", "s3cr3t-old", sensitive=True) is True

    assert tracker.changed is True
    assert tracker.has("description") and not tracker.has("paused")
    assert tracker.changes() == {
        "description": "new",
        "labels": {"x": "3"},
        "token": "s3cr3t-new",
    }
    diff = tracker.diff()
    assert diff["before"] == {
        "description": "old",
        "labels": current["labels"],
        "token": "<redacted>",
    }
    assert diff["after"] == {
        "description": "new",
        "labels": {"x": "3"},
        "token": "<redacted>",
    }
    assert "s3cr3t" not in json.dumps(diff)


def test_diff_tracker_sets_of_dicts_and_merge():
    tracker = DiffTracker()
    assert (
        tracker.compare(
            "routes", [{"a": 1}, {"b": 2}], [{"b": 2}, {"a": 1}], kind="set"
        )
        is False
    )
    other = DiffTracker()
    other.add("state", "absent", "present")
    tracker.merge(other)
    assert tracker.changed
    assert tracker.diff() == {
        "before": {"state": "absent"},
        "after": {"state": "present"},
    }
    with pytest.raises(ValueError):
        tracker.compare("x", 1, 2, kind="fuzzy")
