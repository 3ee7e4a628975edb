"""playbooks/awx.yml without a controller: every awx.awx task uses only options its module
documents, the surveys are in the controller's survey_spec shape, and each credential type
injects only fields it declares, without a secret value anywhere."""

import json
import re
import subprocess

import pytest
import yaml

from ansible_collections.glorious.flywheel.tests.support import ROOT

PLAYBOOK = ROOT / "playbooks" / "awx.yml"
# awx/api/serializers.py (SurveySpec validation) accepts these question types.
SURVEY_TYPES = {
    "text",
    "textarea",
    "password",
    "integer",
    "float",
    "multiplechoice",
    "multiselect",
}


class Unsafe(str):
    pass


class Loader(yaml.SafeLoader):
    pass


Loader.add_constructor(
    "!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node))
)


@pytest.fixture(scope="module")
def play():
    (play,) = yaml.load(PLAYBOOK.read_text(), Loader=Loader)
    return play


@pytest.fixture(scope="module")
def awx_tasks(play):
    return [t for t in play["tasks"] if any(k.startswith("awx.awx.") for k in t)]


def test_tasks_use_documented_options(awx_tasks):
    modules = sorted({k for t in awx_tasks for k in t if k.startswith("awx.awx.")})
    docs = json.loads(
        subprocess.run(
            ["ansible-doc", "--json", *modules],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert set(modules) == {
        "awx.awx.organization",
        "awx.awx.project",
        "awx.awx.credential_type",
        "awx.awx.credential",
        "awx.awx.inventory",
        "awx.awx.inventory_source",
        "awx.awx.job_template",
    }
    for task in awx_tasks:
        (module,) = (k for k in task if k.startswith("awx.awx."))
        options = docs[module]["doc"]["options"]
        unknown = set(task[module]) - set(options)
        assert not unknown, f"{task['name']}: {unknown}"


def test_job_templates_and_surveys(play):
    templates = {t["name"]: t for t in play["vars"]["awx_job_templates"]}
    assert set(templates) == {"bootstrap", "redeploy", "drift", "health", "recover"}
    for template in templates.values():
        assert (ROOT / template["playbook"]).is_file(), template["playbook"]
        for question in template["survey"]:
            assert {"variable", "question_name", "type", "required", "default"} <= set(
                question
            ), question
            assert question["type"] in SURVEY_TYPES
            if question["type"] == "multiplechoice":
                assert question["default"] in question["choices"]
    assert templates["drift"]["playbook"] == "playbooks/redeploy.yml"
    assert (templates["drift"]["job_type"], templates["drift"]["diff_mode"]) == (
        "check",
        True,
    )
    assert "job_type" not in templates["redeploy"]


def test_launch_prompts_and_one_run_at_a_time(awx_tasks):
    (task,) = (t for t in awx_tasks if "awx.awx.job_template" in t)
    options = task["awx.awx.job_template"]
    for prompt in ("inventory", "tags", "job_type"):
        assert options[f"ask_{prompt}_on_launch"] is True
    assert options["allow_simultaneous"] is False


def test_credential_types_inject_only_their_fields_and_hold_no_secret(play, awx_tasks):
    for kind in play["vars"]["awx_credential_types"]:
        fields = {f["id"] for f in kind["inputs"]["fields"]}
        referenced = set()
        for section in kind["injectors"].values():
            for value in section.values():
                # Unsafe: the controller, not Ansible, renders these templates.
                assert isinstance(value, Unsafe), value
                referenced |= set(re.findall(r"{{\s*(\w+)", value))
        assert referenced - {"tower"} <= fields, kind["name"]
        assert referenced - {"tower"}, kind["name"]
    (credential,) = (t for t in awx_tasks if "awx.awx.credential" in t)
    options = credential["awx.awx.credential"]
    assert options["inputs"] == {} and options["update_secrets"] is False
