#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: flywheel_health
short_description: Probe a flywheel platform and classify its health
version_added: 0.1.0
description:
  - Probes the components of one flywheel cluster and returns their status with the evidence, and
    the platform state the recover runbooks act on.
  - Each probe runs only when its options are given. A component that is not probed is reported as
    V(not_configured), never as healthy.
  - Kubernetes (O(kubeconfig)) - rollouts, ready against desired replicas of every Deployment and
    StatefulSet in O(namespaces); runner pools, the pods and workloads labelled
    C(glorious.flywheel/pool), grouped by that label. A pool is C(DOWN) with no ready pod,
    C(DEGRADED) with some, C(HEALTHY) with all.
  - Attic (O(attic_url)) - C(GET <attic_url>/<attic_cache>/nix-cache-info) anonymously, and with
    O(attic_token) C(GET /_api/v1/cache-config/<attic_cache>) as a token check.
  - Bazel remote cache (O(bazel_url)) - C(GET <bazel_url>/status).
  - Dashboard (O(dashboard_url)) - C(GET <dashboard_url>/api/health).
  - Tailnet (O(tailnet_url)) - the control plane's node list; a control plane that does not
    answer is V(unreachable).
  - Forges (O(forge_runners)) - each enrolled runner as its forge lists it. A pool whose pods are
    ready while the forge does not see its GitLab or Forgejo runner online takes no jobs and is
    C(DEGRADED). ARC runners are ephemeral, so GitHub's count is reported, not judged. A forge
    that does not answer makes the C(forges) component V(degraded) and changes no pool.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
  - glorious.flywheel.attributes.info_module
options:
  kubeconfig:
    description:
      - Path of the kubeconfig of the cluster. Enables the rollout and runner pool probes.
    type: path
  context:
    description:
      - Kubeconfig context to use; the current context when not set.
    type: str
  namespaces:
    description:
      - Namespaces whose workloads and runner pods are read.
      - When not set, V(flywheel-system), V(flywheel-cache) and every namespace labelled
        C(app.kubernetes.io/part-of=glorious-flywheel) that is named C(flywheel-runners-*) or carries
        the label C(glorious.flywheel/tenant) (the tenant namespaces of the runner_namespaces role).
      - A namespace that does not exist is listed in the evidence, not counted as a failure.
    type: list
    elements: str
  pools:
    description:
      - Runner pools that must exist. A pool listed here with no labelled pod or workload is
        C(DOWN). Pools found in the cluster are reported whether listed or not.
    type: list
    elements: str
    default: []
  attic_url:
    description:
      - Base URL of the Attic server. Enables the Attic probe.
    type: str
  attic_cache:
    description:
      - The cache whose C(nix-cache-info) is read.
    type: str
    default: main
  attic_token:
    description:
      - An Attic token with pull on O(attic_cache). When given, the probe also checks that the
        token reads the cache configuration.
    type: str
  bazel_url:
    description:
      - Base URL of the bazel-remote HTTP port. Enables the Bazel probe.
    type: str
  dashboard_url:
    description:
      - Base URL of the dashboard. Enables the dashboard probe.
    type: str
  timeout:
    description:
      - Seconds to wait for each answer, so a dead component does not hang the run.
    type: int
    default: 5
  retries:
    description:
      - How often an HTTP probe or a Kubernetes request is repeated after a connection error.
    type: int
    default: 1
  validate_certs:
    description:
      - Whether the HTTP probes verify TLS certificates.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates for the HTTP probes.
    type: path
  tailnet_url:
    description:
      - URL of the tailnet control plane (a Headscale server, or V(https://api.tailscale.com)).
        Enables the tailnet probe, which lists the nodes and which are online.
    type: str
  tailnet_token:
    description:
      - A Headscale API key or a Tailscale API access token. Read from E(HEADSCALE_API_KEY) or
        E(TAILSCALE_API_KEY) when not set.
    type: str
  tailnet_control_plane:
    description:
      - Which control plane O(tailnet_url) is; V(auto) tells Tailscale's own API host from the rest.
    type: str
    default: auto
    choices: [auto, headscale, tailscale]
  tailnet_nodes:
    description:
      - Node names that must be online. One that is not makes the tailnet V(degraded).
    type: list
    elements: str
    default: []
  forge_runners:
    description:
      - One check per enrollment whose runner should be online at its forge, as the
        P(glorious.flywheel.forge_runner_checks#filter) filter builds them from
        C(flywheel_enrollments).
    type: list
    elements: dict
    default: []
    suboptions:
      pool:
        description: The pool the enrollment runs on (the C(glorious.flywheel/pool) label).
        type: str
        required: true
      name:
        description:
          - The enrollment's name, which is the GitLab runner's description, the Forgejo
            runner's name and the ARC scale set's name.
        type: str
        required: true
      forge:
        description:
          - The expanded enrollment's C(forge) - C(type) (V(gitlab), V(forgejo), V(github)),
            C(url), C(scope) and C(target).
        type: dict
        required: true
      token:
        description:
          - The forge API token that may list the scope's runners (GitLab C(read_api) or
            C(manage_runner), Forgejo C(read:) of the scope, GitHub an installation token or
            PAT). Never returned.
        type: str
  fail_on_unhealthy:
    description:
      - Fail the task when RV(state) is not V(healthy), with the summary as its message; the
        result keeps every other return value. For CI jobs that act on the exit code.
    type: bool
    default: false
notes:
  - The module never changes anything; it always reports C(changed=false).
  - Bad input (nothing to probe, a kubeconfig that does not exist or cannot be loaded, a URL that
    is not http(s), no tailnet credentials) fails the task whatever O(fail_on_unhealthy) says.
seealso:
  - module: glorious.flywheel.attic_cache_info
"""

EXAMPLES = r"""
- name: Probe the platform
  glorious.flywheel.flywheel_health:
    kubeconfig: "{{ flywheel_kubeconfig }}"
    attic_url: https://attic.example.net/
    attic_cache: main
    attic_token: "{{ attic_pull_token }}"
    bazel_url: http://bazel-remote.flywheel-cache.svc:8080
    pools: [nix, docker]
  register: health

- name: Fail the CI job when the platform is not healthy
  glorious.flywheel.flywheel_health:
    kubeconfig: "{{ flywheel_kubeconfig }}"
    fail_on_unhealthy: true
"""

RETURN = r"""
state:
  description:
    - The most severe state that applies, V(healthy) when none does. From most to least severe -
      V(cluster_unreachable), V(tailnet_unreachable), V(all_runners_down), V(attic_down), V(pool_degraded),
      V(bazel_down), V(dashboard_down), V(degraded) (a rollout not complete, or a component that
      answers but not fully).
  returned: always
  type: str
  sample: pool_degraded
states:
  description: Every state that applies, most severe first; empty when healthy.
  returned: always
  type: list
  elements: str
  sample: [pool_degraded, degraded]
degraded_pools:
  description: The pools that are not C(HEALTHY).
  returned: always
  type: list
  elements: str
  sample: [nix-heavy]
components:
  description:
    - Per component (C(cluster), C(rollouts), C(runners), C(forges), C(attic), C(bazel),
      C(tailnet), C(dashboard)) its
      C(status) (V(healthy), V(degraded), V(down), V(unreachable), V(not_configured)), a
      C(message) and the C(evidence) it rests on.
    - The C(runners) evidence has C(pools), per pool C(status) (C(HEALTHY), C(DEGRADED), C(DOWN)),
      C(ready), C(expected), C(pods) and C(namespaces), and with O(forge_runners) C(forge), the
      forge's answer per enrollment (C(outcome), C(message), C(online) and C(offline) runners).
  returned: always
  type: dict
  sample:
    attic:
      status: down
      message: "Attic is down: GET http://attic:8080/main/nix-cache-info failed: connection refused"
      evidence: {cache: main, nix_cache_info: {http_status: null}}
summary:
  description: One line per component, for people.
  returned: always
  type: list
  elements: str
  sample: ["platform: healthy", "attic: healthy - Attic serves cache main"]
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _forge_runners as forge_runners,
)
from ansible_collections.glorious.flywheel.plugins.module_utils import (
    _health as health,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet import (
    TailnetError,
)
from ansible_collections.glorious.flywheel.plugins.module_utils._tailnet_module import (
    connect,
)

try:
    from kubernetes import client as kube_client
    from kubernetes import config as kube_config
    from kubernetes.client.rest import ApiException
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()
else:
    KUBERNETES_IMPORT_ERROR = None

PROBE_OPTIONS = (
    "kubeconfig",
    "attic_url",
    "bazel_url",
    "dashboard_url",
    "tailnet_url",
    "forge_runners",
)


def kubernetes_apis(module):
    params = module.params
    if KUBERNETES_IMPORT_ERROR:
        module.fail_json(
            msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR
        )
    if not os.path.isfile(params["kubeconfig"]):
        module.fail_json(
            msg=f"kubeconfig {params['kubeconfig']!r} does not exist: give the path of "
            "the cluster's kubeconfig file"
        )
    configuration = kube_client.Configuration()
    try:
        kube_config.load_kube_config(
            config_file=params["kubeconfig"],
            context=params["context"],
            client_configuration=configuration,
            persist_config=False,
        )
    except (kube_config.ConfigException, ValueError, TypeError) as exc:
        module.fail_json(
            msg=f"kubeconfig {params['kubeconfig']!r} cannot be used: {exc}"
        )
    configuration.retries = params["retries"]
    api = kube_client.ApiClient(configuration)
    return kube_client.CoreV1Api(api), kube_client.AppsV1Api(api)


def probe_forges(module):
    """The forges' answers for O(forge_runners), after checking them."""
    params = module.params
    try:
        checks = forge_runners.validate(params["forge_runners"])
    except forge_runners.CheckError as error:
        module.fail_json(msg=str(error))
    return [
        forge_runners.probe(
            check,
            timeout=params["timeout"],
            retries=params["retries"],
            validate_certs=params["validate_certs"],
            ca_path=params["ca_path"],
        )
        for check in checks
    ]


def probe_cluster(module, forge_results):
    """(cluster, rollouts, runners, forges) components."""
    params = module.params
    core, apps = kubernetes_apis(module)
    timeout = params["timeout"]
    try:
        namespaces = health.cluster_namespaces(core, params["namespaces"], timeout)
        cluster = health.read_cluster(core, apps, namespaces, timeout)
    except (ApiException, Urllib3Error, OSError) as exc:
        text = (
            f"HTTP {exc.status} {exc.reason}"
            if isinstance(exc, ApiException)
            else f"{type(exc).__name__}: {exc}"
        )
        unreachable = health.component(
            health.UNREACHABLE,
            f"the Kubernetes API did not answer the health probe: {text}",
            host=core.api_client.configuration.host,
        )
        return (
            unreachable,
            unreachable,
            unreachable,
            health.apply_forge_runners({}, forge_results),
        )
    reachable = health.component(
        health.HEALTHY,
        "the Kubernetes API answers",
        host=core.api_client.configuration.host,
    )
    pools = health.pools_from_cluster(cluster, params["pools"])
    forges = health.apply_forge_runners(pools, forge_results)
    return (
        reachable,
        health.rollouts_component(cluster),
        health.runners_component(pools),
        forges,
    )


def http_client(module, url_option, token=None):
    params = module.params
    try:
        return health.http_client(
            params[url_option],
            params["timeout"],
            params["retries"],
            params["validate_certs"],
            params["ca_path"],
            token=token,
        )
    except ValueError as exc:
        module.fail_json(msg=f"{url_option}: {exc}")


def tailnet_api(module):
    params = module.params
    try:
        return connect(
            {
                "control_plane": params["tailnet_control_plane"],
                "api_url": params["tailnet_url"],
                "api_token": params["tailnet_token"],
                "timeout": params["timeout"],
                "retries": params["retries"],
                "validate_certs": params["validate_certs"],
                "ca_path": params["ca_path"],
                "tailnet": "-",
            },
            on_secret=module.no_log_values.add,
        )
    except TailnetError as error:
        option = {
            "api_token": "tailnet_token",
            "control_plane": "tailnet_control_plane",
        }.get(error.field, "tailnet_url")
        module.fail_json(msg=f"{option}: {error}")


def main():
    module = AnsibleModule(
        argument_spec={
            "kubeconfig": {"type": "path"},
            "context": {"type": "str"},
            "namespaces": {"type": "list", "elements": "str"},
            "pools": {"type": "list", "elements": "str", "default": []},
            "attic_url": {"type": "str"},
            "attic_cache": {"type": "str", "default": "main"},
            "attic_token": {"type": "str", "no_log": True},
            "bazel_url": {"type": "str"},
            "dashboard_url": {"type": "str"},
            "timeout": {"type": "int", "default": 5},
            "retries": {"type": "int", "default": 1},
            "validate_certs": {"type": "bool", "default": True},
            "ca_path": {"type": "path"},
            "tailnet_url": {"type": "str"},
            "tailnet_token": {"type": "str", "no_log": True},
            "tailnet_control_plane": {
                "type": "str",
                "default": "auto",
                "choices": ["auto", "headscale", "tailscale"],
            },
            "tailnet_nodes": {"type": "list", "elements": "str", "default": []},
            "forge_runners": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": {
                    "pool": {"type": "str", "required": True},
                    "name": {"type": "str", "required": True},
                    "forge": {"type": "dict", "required": True},
                    "token": {"type": "str", "no_log": True},
                },
            },
            "fail_on_unhealthy": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not any(params[option] for option in PROBE_OPTIONS):
        module.fail_json(
            msg="Nothing to probe: give at least one of " + ", ".join(PROBE_OPTIONS)
        )
    if params["timeout"] < 1:
        module.fail_json(msg="timeout must be at least 1 (seconds)")
    if params["retries"] < 0:
        module.fail_json(msg="retries must be 0 or more")

    forge_results = probe_forges(module)
    components = {}
    if params["kubeconfig"]:
        (
            components["cluster"],
            components["rollouts"],
            components["runners"],
            components["forges"],
        ) = probe_cluster(module, forge_results)
    else:
        for name in ("cluster", "rollouts", "runners"):
            components[name] = health.not_configured("kubeconfig")
        components["forges"] = health.apply_forge_runners({}, forge_results)
    if params["attic_url"]:
        token = params["attic_token"]
        components["attic"] = health.probe_attic(
            http_client(module, "attic_url"),
            params["attic_cache"],
            http_client(module, "attic_url", token) if token else None,
        )
    else:
        components["attic"] = health.not_configured("attic_url")
    components["bazel"] = (
        health.probe_bazel(http_client(module, "bazel_url"))
        if params["bazel_url"]
        else health.not_configured("bazel_url")
    )
    components["tailnet"] = (
        health.probe_tailnet(tailnet_api(module), params["tailnet_nodes"])
        if params["tailnet_url"]
        else health.not_configured("tailnet_url")
    )
    components["dashboard"] = (
        health.probe_dashboard(http_client(module, "dashboard_url"))
        if params["dashboard_url"]
        else health.not_configured("dashboard_url")
    )

    state, states, degraded_pools = health.classify(components)
    result = {
        "changed": False,
        "state": state,
        "states": states,
        "degraded_pools": degraded_pools,
        "components": components,
        "summary": health.summary_lines(state, components),
    }
    if params["fail_on_unhealthy"] and state != health.HEALTHY:
        module.fail_json(msg="; ".join(result["summary"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
