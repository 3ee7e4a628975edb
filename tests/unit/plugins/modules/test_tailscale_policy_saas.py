"""tailscale_policy against the Tailscale SaaS double: ETag and If-Match, 412,
validation, HuJSON compared as data (publicapi/tailnet.md, "Policy File")."""

import json

import pytest

from ansible_collections.glorious.flywheel.plugins.modules import tailscale_policy
from ansible_collections.glorious.flywheel.tests.doubles.tailscale_saas import (
    API_KEY,
    DEFAULT_POLICY,
    TailscaleSaas,
    module_args,
)
from ansible_collections.glorious.flywheel.tests.inprocess import run_module

POLICY = {
    "tagOwners": {"tag:server": ["autogroup:admin"]},
    "acls": [
        {"action": "accept", "src": ["autogroup:member"], "dst": ["tag:server:22"]}
    ],
}
SAME_AS_HUJSON = """// servers only
{
  "acls": [
    // members may ssh to servers
    {"dst": ["tag:server:22"], "src": ["autogroup:member"], "action": "accept",},
  ],
  /* who may tag */ "tagOwners": {"tag:server": ["autogroup:admin",],},
}
"""


@pytest.fixture
def saas(serve_double):
    return serve_double(TailscaleSaas)


def test_write_with_if_match_then_hujson_twin_is_no_change(saas):
    etag = saas.etag
    result = run_module(
        tailscale_policy.main, module_args(saas, policy=POLICY), diff=True
    )
    assert result["changed"] and result["policy"] == POLICY
    assert '"tag:server:22"' in result["diff"]["after"]
    assert '"*:*"' in result["diff"]["before"]
    write = [r for r in saas.requests if r.route == "set_acl"][0]
    assert write.headers["If-Match"] == etag
    assert [r.route for r in saas.requests] == ["get_acl", "validate_acl", "set_acl"]
    assert saas.policy() == POLICY

    saas.reset()
    same = run_module(tailscale_policy.main, module_args(saas, policy=SAME_AS_HUJSON))
    assert same["changed"] is False and "diff" not in same
    assert [r.route for r in saas.requests] == ["get_acl"]


def test_hujson_text_is_sent_as_written_so_comments_stay(saas):
    result = run_module(tailscale_policy.main, module_args(saas, policy=SAME_AS_HUJSON))
    assert result["changed"]
    assert saas.policy_text == SAME_AS_HUJSON
    assert saas.policy() == POLICY


def test_check_mode_validates_but_writes_nothing(saas):
    result = run_module(
        tailscale_policy.main,
        module_args(saas, policy=POLICY),
        check_mode=True,
        diff=True,
    )
    assert result["changed"] and result["diff"]["after"]
    assert saas.policy_text == DEFAULT_POLICY and saas.policy_writes == 0
    assert [r.route for r in saas.requests] == ["get_acl", "validate_acl"]


def test_a_policy_changed_by_someone_else_is_not_overwritten(saas):
    elsewhere = '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:443"]}]}'
    saas.edit_after_next_read(elsewhere)
    result = run_module(tailscale_policy.main, module_args(saas, policy=POLICY))
    assert result["failed"] and result["field"] == "policy"
    assert "changed by someone else" in result["msg"] and "412" in result["msg"]
    assert saas.policy_text == elsewhere and saas.policy_writes == 0
    assert "Traceback" not in result["_stdout"]


def test_invalid_policy_gets_the_apis_validation_message(saas):
    bad = {"acls": [{"action": "drop", "src": ["*"], "dst": ["*:*"]}]}
    result = run_module(tailscale_policy.main, module_args(saas, policy=bad))
    assert result["failed"] and 'action "drop" is not valid' in result["msg"]
    assert "acls[0]: invalid action" in result["msg"]
    assert saas.policy_writes == 0


@pytest.mark.parametrize(
    "policy, words",
    [
        ('{"acls": [ /* unclosed', "unterminated /* comment"),
        ('{"acls": [}', "not valid HuJSON at line 1"),
        ("[1, 2]", "at the top level"),
    ],
)
def test_policy_text_that_is_not_hujson_fails_before_any_request(saas, policy, words):
    result = run_module(tailscale_policy.main, module_args(saas, policy=policy))
    assert result["failed"] and words in result["msg"]
    assert saas.count() == 0 and API_KEY not in result["_stdout"]


def test_policy_given_as_a_list_is_refused(saas):
    result = run_module(
        tailscale_policy.main, module_args(saas, policy=[json.dumps(POLICY)])
    )
    assert result["failed"] and "got a list" in result["msg"]
