#!/usr/bin/python
# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: flywheel_enrollments
short_description: Check runner enrollments and expand them into what the runner and cache roles deploy
version_added: 0.1.0
description:
  - Reads C(flywheel_enrollments), one entry per forge scope that gets runners, each placed along
    four dimensions - the forge scope (GitHub repo, org or enterprise; GitLab project, group or
    instance; Forgejo or Gitea repo, org, user or instance), the operator tenant (team, org,
    enterprise or customer), the execution pool (docker, nix, nix-heavy, gpu, kvm, or one defined
    in O(pools)) and the cache plane (the tenant's Attic cache view and token scope, its Bazel
    prefix).
  - Fails on the first bad entry, naming the enrollment and the field, before any role talks to
    an API or a cluster.
  - Returns each enrollment expanded - the pool's image, labels, requests and limits, scheduling,
    the forge's registration URL, the tenant's namespace, the Attic token permissions and the job
    environment (C(NIX_CONFIG), C(ATTIC_SERVER), C(ATTIC_CACHE), C(BAZEL_REMOTE_CACHE)) - plus a
    per-tenant summary.
  - Runs on the controller (it is an action plugin) and talks to nothing.
author:
  - GloriousFlywheel developers (@glorious-flywheel)
extends_documentation_fragment:
  - glorious.flywheel.attributes
attributes:
  action:
    description: Runs as an action plugin on the controller.
    support: full
  async:
    description: Supports being used with the C(async) keyword.
    support: none
  check_mode:
    support: full
    details:
      - Changes nothing, so it runs in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Always reports C(changed=false).
options:
  enrollments:
    description:
      - The enrollments, usually C(flywheel_enrollments).
      - Each has C(name) (a DNS label naming the Helm release; at most 45 characters for GitHub,
        ARC's limit on C(runnerScaleSetName)); C(forge) with C(type) (C(github), C(gitlab),
        C(forgejo); C(gitea) is taken as C(forgejo)), C(scope), C(target) (C(owner/name) for a repo,
        a login or slug for an org, user or enterprise, a path or numeric id for a GitLab project or
        group, nothing for an instance), optional C(url) and C(auth) (GitHub C(app) or C(pat));
        C(tenant) with C(name) and C(kind) (default C(team)) and optional C(namespace) (default
        C(flywheel-runners-<tenant>)); C(pool), a pool name or a mapping of C(name) plus fields that
        override the pool's for this enrollment; optional C(cache) with C(attic) (a cache in the
        tenant's view C(<tenant>-*), default C(<tenant>-main); false for none), C(push) (default
        whether the pool uses the cache) and C(bazel) (the tenant's Bazel cache, filling
        C({tenant}) in O(bazel_url); default the tenant name);
        optional C(runners) with C(min), C(max) and C(group).
    type: list
    elements: dict
    required: true
  pools:
    description:
      - Pool definitions to add or override, by pool name; fields given replace the catalogue's,
        a new pool starts from C(docker).
      - "Fields: C(image), C(labels), C(requests), C(limits), C(concurrency), C(node_selector),
        C(tolerations), C(runtime_class), C(extra_resources), C(privileged), C(host_paths), C(cache),
        C(kvm_access) (C(device-plugin) or C(host-path))."
    type: dict
    default: {}
  attic_url:
    description:
      - The Attic API and substituter endpoint runners reach, for the job environment. Without it
        the environment has no Attic settings.
    type: str
  bazel_url:
    description:
      - The Bazel remote cache URL runners reach, for C(BAZEL_REMOTE_CACHE). C({tenant}) in it is
        replaced by the enrollment's C(cache.bazel), for the per-tenant instances of the
        C(bazel_remote) role (C(grpc://bazel-cache-{tenant}.flywheel-cache.svc.cluster.local:9092));
        without it every tenant shares the one cache.
    type: str
seealso:
  - module: glorious.flywheel.attic_token
  - module: glorious.flywheel.github_runner_registration_token
  - module: glorious.flywheel.gitlab_runner
"""

EXAMPLES = r"""
- name: Check and expand the enrollments
  glorious.flywheel.flywheel_enrollments:
    enrollments:
      - name: acme-widgets-nix
        forge: {type: github, scope: repo, target: acme/widgets}
        tenant: {name: acme, kind: org}
        pool: nix
        runners: {min: 0, max: 10}
      - name: platform-gitlab-docker
        forge: {type: gitlab, scope: group, target: platform, url: "https://gitlab.example.com"}
        tenant: {name: platform}
        pool: {name: docker, concurrency: 4}
        cache: {attic: false}
    attic_url: "https://attic.tail0123.ts.net"
    bazel_url: "grpc://bazel-cache-{tenant}.flywheel-cache.svc.cluster.local:9092"
  register: enrolled
"""

RETURN = r"""
enrollments:
  description: The enrollments, checked and expanded, in the order given.
  returned: success
  type: list
  elements: dict
  sample:
    - name: acme-widgets-nix
      forge: {type: github, scope: repo, target: acme/widgets, auth: app,
              url: "https://github.com", config_url: "https://github.com/acme/widgets"}
      tenant: {name: acme, kind: org, namespace: flywheel-runners-acme}
      pool: {name: nix, image: "docker.io/nixos/nix:2.24.9", labels: [nix, flakes, linux, amd64],
             concurrency: 6, cache: true}
      runners: {min: 0, max: 10, group: null}
      cache: {attic: acme-main, attic_view: "acme-*", push: true, bazel: acme,
              attic_token_permissions: {acme-main: [pull, push]},
              env: {ATTIC_CACHE: acme-main}}
tenants:
  description:
    - Per tenant - its namespace, Attic cache view and caches, Bazel prefixes, pools and enrollments.
    - C(largest_limits) is the largest CPU and memory limit among its pools (the namespace's LimitRange
      must admit them), C(privileged) whether a pool needs privileged pods, C(extra_resources) the
      extended resources (GPUs, C(/dev/kvm)) its pools ask for.
  returned: success
  type: dict
  sample:
    acme:
      kind: org
      namespace: flywheel-runners-acme
      attic_view: "acme-*"
      attic_caches: [acme-main]
      bazel_prefixes: [acme]
      pools: [nix]
      enrollments: [acme-widgets-nix]
      largest_limits: {cpu: "4", memory: 8Gi}
      privileged: false
      extra_resources: []
"""
