# Copyright: (c) 2025, GloriousFlywheel developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: flywheel_report
type: aggregate
short_description: Records each run in the platform's convergence history and drift report
version_added: 0.1.0
author: GloriousFlywheel developers (@glorious-flywheel)
description:
  - Counts what a run of bootstrap.yml, redeploy.yml or recover.yml changed and what failed,
    per host and task, with the kind, namespace and name of the Kubernetes object a task acted
    on. It never records results, diffs or values; failure messages are truncated and
    anything token-shaped in them is blanked out.
  - At the end of the run it writes C(drift.json), C(drift.txt) and C(history.jsonl) to
    O(report_dir), and, for every cluster the run touched (the hosts of group
    C(flywheel_cluster_api), through their C(flywheel_kubeconfig)), appends the record to the
    ConfigMap C(flywheel-history) (key C(history.jsonl), the last 200 runs) and replaces the
    ConfigMap C(flywheel-drift) (keys C(drift.json) and C(summary.txt)) in O(namespace).
  - A run in check mode (C(--check)) of bootstrap or redeploy is recorded as playbook C(drift);
    its C(drift) field says whether anything would change.
  - The record's fields are described in docs/operations.md; the dashboard reads them.
requirements:
  - kubernetes (Python client) on the controller, to write the ConfigMaps
options:
  report_dir:
    description: Where the local report files go. Default C($TMPDIR/flywheel-report).
    type: path
    env:
      - name: FLYWHEEL_REPORT_DIR
    ini:
      - section: flywheel_report
        key: report_dir
  cluster_store:
    description: Whether to write the records into the clusters' ConfigMaps too.
    type: bool
    default: true
    env:
      - name: FLYWHEEL_REPORT_CLUSTER
    ini:
      - section: flywheel_report
        key: cluster_store
  namespace:
    description: Namespace of the ConfigMaps (glorious.flywheel.cluster_baseline creates it).
    type: str
    default: flywheel-system
    env:
      - name: FLYWHEEL_REPORT_NAMESPACE
    ini:
      - section: flywheel_report
        key: namespace
"""

EXAMPLES = r"""
# ANSIBLE_CALLBACKS_ENABLED=glorious.flywheel.flywheel_report \
#   FLYWHEEL_REPORT_DIR=report ansible-playbook glorious.flywheel.redeploy -i inventories/lab
# or in ansible.cfg:
#   [defaults]
#   callbacks_enabled = glorious.flywheel.flywheel_report
#   [flywheel_report]
#   report_dir = report
"""

import os
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.template import Templar

from ansible_collections.glorious.flywheel.plugins.plugin_utils import _run_report

CLUSTER_GROUP = "flywheel_cluster_api"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "glorious.flywheel.flywheel_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._report = None
        self._play = None
        self._hosts = set()

    def v2_playbook_on_start(self, playbook):
        name = os.path.splitext(os.path.basename(playbook._file_name))[0]
        report_dir = self.get_option("report_dir") or os.path.join(
            tempfile.gettempdir(), "flywheel-report"
        )
        self._report = _run_report.RunReport(
            name, bool(context.CLIARGS.get("check")), report_dir
        )
        _run_report.CURRENT["report"] = self._report

    def v2_playbook_on_play_start(self, play):
        self._play = play
        self._report.play(play.get_name())

    def v2_runner_on_ok(self, result):
        host = result._host.get_name()
        self._hosts.add(host)
        self._report.task_done(
            host, result._task.get_name(), result._result, result.is_changed()
        )

    def v2_runner_item_on_ok(self, result):
        if result.is_changed():
            self._report.change(
                result._host.get_name(), result._task.get_name(), result._result
            )

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._hosts.add(result._host.get_name())
        # The drift gate fails on purpose; the record says drift, not failure.
        if ignore_errors or result._task.vars.get("flywheel_report_drift_gate"):
            return
        self._report.failure(
            result._host.get_name(), result._task.get_name(), result._result
        )

    def v2_runner_on_unreachable(self, result):
        self._hosts.add(result._host.get_name())
        self._report.failure(
            result._host.get_name(), result._task.get_name(), result._result
        )

    def v2_playbook_on_stats(self, stats):
        if self._report is None:
            return
        clusters = self._clusters()
        record = self._report.record(",".join(c["name"] for c in clusters) or None)
        try:
            _run_report.write_local(
                self._report.report_dir, record, self._report.plays_summary()
            )
        except OSError as exc:
            self._display.warning(
                f"flywheel_report: cannot write {self._report.report_dir}: {exc}"
            )
        if not self.get_option("cluster_store"):
            return
        for cluster in clusters:
            try:
                _run_report.write_cluster(
                    cluster["kubeconfig"],
                    self.get_option("namespace"),
                    dict(record, cluster=cluster["name"]),
                )
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # A report that cannot be stored must not turn a good run into a failure.
                self._display.warning(
                    f"flywheel_report: history of cluster {cluster['name']} not stored: "
                    f"{_run_report.redact(getattr(exc, 'reason', None) or exc)}"
                )

    def _clusters(self):
        """Name and kubeconfig of each cluster whose API host took part in the run."""
        if self._play is None:
            return []
        manager = self._play.get_variable_manager()
        inventory = getattr(manager, "_inventory", None)
        if inventory is None or CLUSTER_GROUP not in inventory.groups:
            return []
        clusters = []
        for host in inventory.get_hosts(CLUSTER_GROUP):
            if host.get_name() not in self._hosts:
                continue
            variables = manager.get_vars(play=self._play, host=host)
            templar = Templar(loader=self._play._loader, variables=variables)
            kubeconfig = variables.get("flywheel_kubeconfig")
            if not kubeconfig:
                continue
            clusters.append(
                {
                    "name": templar.template(
                        variables.get("flywheel_cluster_name", host.get_name())
                    ),
                    "kubeconfig": templar.template(kubeconfig),
                }
            )
        return clusters
