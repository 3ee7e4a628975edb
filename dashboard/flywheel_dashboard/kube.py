"""What the dashboard reads from and does to Kubernetes, through its service account.

Health is computed by the collection's own probe code (plugins/module_utils/_health.py),
so the dashboard and ``flywheel_health`` never disagree about what a pool's state is.
Every reader returns what it saw or says why it saw nothing: no call here invents a value.
"""

from __future__ import annotations

import contextlib
import json
import time

import yaml
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from .collection import forge_runners, health

HISTORY_CONFIGMAP = "flywheel-history"
HISTORY_KEY = "history.jsonl"
DRIFT_CONFIGMAP = "flywheel-drift"
# Where pause keeps what resume restores: on the object itself, so two dashboard
# replicas (or a restart) agree on it.
PAUSED_ANNOTATION = "glorious.flywheel/paused-from"
# actions/actions-runner-controller apis/actions.github.com/v1alpha1.
ARC_GROUP, ARC_VERSION = "actions.github.com", "v1alpha1"
UNREACHABLE_ERRORS = (ApiException, Urllib3Error, OSError)


class BackendError(Exception):
    """A backend did not answer, or refused; str() is what the page shows."""


class ActionRefused(Exception):
    """The action cannot be done as asked (no such pool, not configured)."""


def describe(error):
    if isinstance(error, ApiException):
        message = error.reason
        with contextlib.suppress(TypeError, ValueError, AttributeError):
            message = json.loads(error.body).get("message") or message
        return f"HTTP {error.status}: {message}"
    return f"{type(error).__name__}: {error}"


def api_client(settings):
    """An ApiClient from KUBECONFIG when set, else the pod's service account."""
    if settings.kubeconfig:
        return kube_config.new_client_from_config(config_file=settings.kubeconfig)
    configuration = kube_client.Configuration()
    kube_config.load_incluster_config(client_configuration=configuration)
    return kube_client.ApiClient(configuration)


class Cluster:
    def __init__(self, settings):
        self.settings = settings
        self._client = None

    def _api(self):
        if self._client is None:
            try:
                self._client = api_client(self.settings)
            except (kube_config.ConfigException, OSError) as error:
                raise BackendError(
                    f"no Kubernetes configuration (set KUBECONFIG or run in a pod "
                    f"with a service account): {error}"
                ) from None
        return self._client

    @property
    def core(self):
        return kube_client.CoreV1Api(self._api())

    @property
    def apps(self):
        return kube_client.AppsV1Api(self._api())

    @property
    def custom(self):
        return kube_client.CustomObjectsApi(self._api())

    @property
    def batch(self):
        return kube_client.BatchV1Api(self._api())

    @property
    def host(self):
        try:
            return self._api().configuration.host
        except BackendError:
            return None

    # Reading ------------------------------------------------------------------

    def read(self):
        """(namespaces, cluster) as _health.read_cluster sees them."""
        timeout = self.settings.timeout_s
        try:
            core = self.core
            namespaces = health.cluster_namespaces(
                core, self.settings.pool_namespaces, timeout
            )
            return namespaces, health.read_cluster(core, self.apps, namespaces, timeout)
        except UNREACHABLE_ERRORS as error:
            raise BackendError(
                f"the Kubernetes API did not answer: {describe(error)}"
            ) from None

    def deployments(self, namespaces):
        """Labelled pool Deployments: {pool: [deployment facts]}."""
        found = {}
        for namespace in namespaces:
            try:
                items = self.apps.list_namespaced_deployment(
                    namespace, _request_timeout=self.settings.timeout_s
                ).items
            except ApiException as error:
                if error.status == 404:
                    continue
                raise
            for item in items:
                # Charts label the pod template, not always the Deployment itself.
                template = item.spec.template.metadata
                pool = (item.metadata.labels or {}).get(health.POOL_LABEL) or (
                    (template.labels or {}) if template else {}
                ).get(health.POOL_LABEL)
                if not pool:
                    continue
                found.setdefault(pool, []).append(
                    {
                        "kind": "Deployment",
                        "namespace": namespace,
                        "name": item.metadata.name,
                        "replicas": item.spec.replicas,
                        "ready": item.status.ready_replicas or 0,
                        "paused_from": (item.metadata.annotations or {}).get(
                            PAUSED_ANNOTATION
                        ),
                    }
                )
        return found

    def scale_sets(self, namespaces):
        """ARC AutoscalingRunnerSets by pool, or None when ARC's CRDs are absent."""
        found = {}
        for namespace in namespaces:
            try:
                listing = self.custom.list_namespaced_custom_object(
                    ARC_GROUP,
                    ARC_VERSION,
                    namespace,
                    "autoscalingrunnersets",
                    _request_timeout=self.settings.timeout_s,
                )
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
            for item in listing.get("items", []):
                meta = item.get("metadata", {})
                pool = (meta.get("labels") or {}).get(health.POOL_LABEL)
                if not pool:
                    continue
                spec, status = item.get("spec", {}), item.get("status", {})
                found.setdefault(pool, []).append(
                    {
                        "kind": "AutoscalingRunnerSet",
                        "namespace": namespace,
                        "name": meta.get("name"),
                        "min_runners": spec.get("minRunners"),
                        "max_runners": spec.get("maxRunners"),
                        "current_runners": status.get("currentRunners"),
                        "running_runners": status.get("runningEphemeralRunners"),
                        "pending_runners": status.get("pendingEphemeralRunners"),
                        "paused_from": (meta.get("annotations") or {}).get(
                            PAUSED_ANNOTATION
                        ),
                    }
                )
        return found

    def overview(self):
        """Health (as flywheel_health classifies it) and pools; errors as text."""
        started = time.time()
        result = {
            "generated_at": started,
            "kubernetes": {"status": "ok", "host": self.host, "error": None},
            "arc": {"installed": None},
            "pools": None,
        }
        components = {}
        try:
            namespaces, cluster = self.read()
            pools = health.pools_from_cluster(cluster)
            workloads = self.deployments(namespaces)
            arc = self.scale_sets(namespaces)
        except (BackendError, *UNREACHABLE_ERRORS) as error:
            text = str(error) if isinstance(error, BackendError) else describe(error)
            result["kubernetes"] = {
                "status": "unreachable",
                "host": self.host,
                "error": text,
            }
            components["cluster"] = health.component(health.UNREACHABLE, text)
        else:
            components["cluster"] = health.component(
                health.HEALTHY, "the Kubernetes API answers", host=self.host
            )
            components["rollouts"] = health.rollouts_component(cluster)
            components["forges"] = self.forges(pools)
            components["runners"] = health.runners_component(pools)
            result["namespaces"] = namespaces
            result["arc"] = {"installed": arc is not None}
            for name in set(workloads) | set(arc or {}):
                if name is not None and name not in pools:
                    # Scaled to zero (paused, or an idle ARC set): no pods, yet a pool.
                    pools[name] = {
                        "status": health.POOL_DOWN,
                        "ready": 0,
                        "expected": 0,
                        "pods": 0,
                        "namespaces": [],
                    }
            for name, pool in pools.items():
                targets = workloads.get(name, []) + (arc or {}).get(name, [])
                pool["targets"] = targets
                pool["paused"] = bool(targets) and all(
                    t["paused_from"] for t in targets
                )
            result["pools"] = pools
        components.update(self.services())
        state, states, degraded = health.classify(components)
        result["health"] = {
            "state": state,
            "states": states,
            "degraded_pools": degraded,
            "components": components,
        }
        return result

    def forge_checks(self):
        """The checks of FLYWHEEL_DASHBOARD_FORGE_RUNNERS, else of _FORGE_RUNNERS_FILE."""
        if self.settings.forge_runners:
            try:
                return forge_runners.validate(list(self.settings.forge_runners))
            except ValueError as error:
                raise BackendError(
                    f"FLYWHEEL_DASHBOARD_FORGE_RUNNERS: {error}"
                ) from None
        path = self.settings.forge_runners_file
        if not path:
            return []
        try:
            with open(path, encoding="utf-8") as handle:
                return forge_runners.validate(json.load(handle))
        except (OSError, ValueError) as error:
            raise BackendError(
                f"cannot read the forge checks in {path}: {error}"
            ) from None

    def forges(self, pools, only=None):
        """The forges' view of the enrolled runners (of pool ONLY when given), applied to
        POOLS; returns the ``forges`` component."""
        try:
            checks = [
                c for c in self.forge_checks() if only is None or c["pool"] == only
            ]
        except BackendError as error:
            return health.component(health.UNREACHABLE, str(error))
        if not checks:
            return health.not_configured("FLYWHEEL_DASHBOARD_FORGE_RUNNERS")
        answers = [
            forge_runners.probe(check, timeout=self.settings.timeout_s, retries=0)
            for check in checks
        ]
        return health.apply_forge_runners(pools, answers)

    def services(self):
        settings = self.settings
        timeout = settings.timeout_s
        found = {}
        if settings.attic_url:
            found["attic"] = health.probe_attic(
                health.http_client(settings.attic_url, timeout, 1), settings.attic_cache
            )
        else:
            found["attic"] = health.not_configured("FLYWHEEL_DASHBOARD_ATTIC_URL")
        if settings.bazel_url:
            found["bazel"] = health.probe_bazel(
                health.http_client(settings.bazel_url, timeout, 1)
            )
        else:
            found["bazel"] = health.not_configured("FLYWHEEL_DASHBOARD_BAZEL_URL")
        return found

    def pool(self, name):
        """One pool's facts and pods, or None when nothing in the cluster has that pool."""
        try:
            namespaces, cluster = self.read()
            pools = health.pools_from_cluster(cluster)
            workloads = self.deployments(namespaces).get(name, [])
            arc = self.scale_sets(namespaces)
        except UNREACHABLE_ERRORS as error:
            raise BackendError(
                f"the Kubernetes API did not answer: {describe(error)}"
            ) from None
        targets = workloads + (arc or {}).get(name, [])
        if name not in pools and not targets:
            return None
        facts = pools.get(name) or {
            "status": health.POOL_DOWN,
            "ready": 0,
            "expected": 0,
            "pods": 0,
            "namespaces": [],
        }
        pods = [
            dict(pod, namespace=namespace)
            for namespace, content in cluster.items()
            if content
            for pod in content["pods"]
            if pod["pool"] == name
        ]
        facts = dict(facts)
        forges = self.forges({name: facts}, only=name)
        return dict(
            facts,
            forges_component=forges,
            name=name,
            targets=targets,
            pods=pods,
            paused=bool(targets) and all(t["paused_from"] for t in targets),
            arc_installed=arc is not None,
        )

    def config_map(self, name):
        """The data of ConfigMap NAME in the dashboard's namespace; None when absent."""
        try:
            found = self.core.read_namespaced_config_map(
                name, self.settings.namespace, _request_timeout=self.settings.timeout_s
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise BackendError(
                f"cannot read ConfigMap {self.settings.namespace}/{name}: {describe(error)}"
            ) from None
        except (Urllib3Error, OSError) as error:
            raise BackendError(
                f"the Kubernetes API did not answer: {describe(error)}"
            ) from None
        return found.data or {}

    # Acting -------------------------------------------------------------------

    def _targets(self, name):
        found = self.pool(name)
        if found is None:
            raise ActionRefused(f"no pool named {name!r} in the cluster")
        if not found["targets"]:
            raise ActionRefused(
                f"pool {name!r} has no labelled Deployment or AutoscalingRunnerSet to scale"
            )
        return found["targets"]

    def pause(self, name):
        """Scale every target of pool NAME to zero, keeping what resume restores."""
        done = []
        for target in self._targets(name):
            if target["paused_from"]:
                continue
            if target["kind"] == "Deployment":
                before = json.dumps({"replicas": target["replicas"]})
                self._patch_deployment(target, 0, before)
            else:
                before = json.dumps(
                    {
                        "minRunners": target["min_runners"],
                        "maxRunners": target["max_runners"],
                    }
                )
                self._patch_scale_set(target, 0, 0, before)
            done.append(f"{target['kind']} {target['namespace']}/{target['name']}")
        return done

    def resume(self, name):
        done = []
        for target in self._targets(name):
            if not target["paused_from"]:
                continue
            before = json.loads(target["paused_from"])
            if target["kind"] == "Deployment":
                self._patch_deployment(target, before["replicas"], None)
            else:
                self._patch_scale_set(
                    target, before["minRunners"], before["maxRunners"], None
                )
            done.append(f"{target['kind']} {target['namespace']}/{target['name']}")
        return done

    def _patch_deployment(self, target, replicas, paused_from):
        self.apps.patch_namespaced_deployment(
            target["name"],
            target["namespace"],
            {
                "metadata": {"annotations": {PAUSED_ANNOTATION: paused_from}},
                "spec": {"replicas": replicas},
            },
            _request_timeout=self.settings.timeout_s,
        )

    def _patch_scale_set(self, target, min_runners, max_runners, paused_from):
        self.custom.patch_namespaced_custom_object(
            ARC_GROUP,
            ARC_VERSION,
            target["namespace"],
            "autoscalingrunnersets",
            target["name"],
            {
                "metadata": {"annotations": {PAUSED_ANNOTATION: paused_from}},
                "spec": {"minRunners": min_runners, "maxRunners": max_runners},
            },
        )

    def recover(self, name, user):
        """A Job made from the recover template ConfigMap, for pool NAME."""
        self._targets(name)
        template = self.config_map(self.settings.recover_template)
        if template is None or "job.yaml" not in template:
            raise ActionRefused(
                f"recover is not configured: ConfigMap {self.settings.namespace}/"
                f"{self.settings.recover_template} with a job.yaml key is missing"
            )
        job = yaml.safe_load(template["job.yaml"])
        if not isinstance(job, dict) or job.get("kind") != "Job":
            raise ActionRefused(
                f"ConfigMap {self.settings.recover_template} job.yaml is not a Job manifest"
            )
        meta = job.setdefault("metadata", {})
        meta.pop("name", None)
        meta["generateName"] = "flywheel-recover-"
        meta.setdefault("labels", {}).update(
            {health.POOL_LABEL: name, "app.kubernetes.io/part-of": "glorious-flywheel"}
        )
        meta.setdefault("annotations", {})["glorious.flywheel/requested-by"] = user
        spec = (
            job.setdefault("spec", {}).setdefault("template", {}).setdefault("spec", {})
        )
        for container in spec.get("containers", []):
            container.setdefault("env", []).append(
                {"name": "FLYWHEEL_RECOVER_POOL", "value": name}
            )
        created = self.batch.create_namespaced_job(
            self.settings.namespace, job, _request_timeout=self.settings.timeout_s
        )
        return created.metadata.name
