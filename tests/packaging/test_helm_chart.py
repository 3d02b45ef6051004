"""The Helm chart (charts/lagwatch/) checked by Helm itself and read back: `helm lint --strict` and `helm template`
with the default values and with values-ha.yaml, then the rendered manifests are parsed and what an operator
relies on is asserted: the pod runs as non-root on a read-only root file system with no capabilities, its probes
reach /healthz and /readyz, the state directory is a volume (emptyDir, a claim, or one claim per replica), the
config in the ConfigMap is a valid lagwatch config once its secret files are read from the chart's Secret, and
no secret value appears anywhere but in that Secret. No Kubernetes API server runs here: the manifests are
rendered and checked, not applied.

Helm is built from the Go module proxy by `scripts/bootstrap --tests` (in the background; these tests wait for
it) into the cache and linked as .tools/helm.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from devstack.common import cache_dir
from exporter import config as lagwatch_config

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "lagwatch"
HA_VALUES = CHART / "values-ha.yaml"
BUILD_WAIT_S = 40 * 60  # a cold build on two busy cores (docs/testing.md has the measured figures)


def _helm_version() -> str:
    match = re.search(r"^\s*helm\.sh/helm/v4 (v\S+)", (ROOT / "scripts" / "helm" / "go.mod").read_text(), re.M)
    assert match, "scripts/helm/go.mod pins no helm.sh/helm/v4"
    return match.group(1)


def _missing(why: str) -> None:
    if os.geteuid() != 0 and not os.environ.get("LAGWATCH_REQUIRE_ALL"):
        pytest.skip(f"helm not built ({why})")
    pytest.fail(f"helm not built ({why})")


@pytest.fixture(scope="module")
def helm() -> Path:
    """The Helm binary scripts/bootstrap --tests builds, once its build (if one runs) is over."""
    home = cache_dir() / "tools" / f"helm-{_helm_version()}"
    binary, lock = home / "helm", home / "build.lock"
    if not binary.exists() and not lock.exists():
        _missing(f"run ./scripts/bootstrap --tests, which builds it into {home} (needs Go)")
    deadline = time.monotonic() + BUILD_WAIT_S
    with open(lock, "a") as held:  # the build holds it exclusively until the binary is in place
        while True:
            try:
                fcntl.flock(held, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Helm's build is still running after {BUILD_WAIT_S} s: see {home / 'build.log'}")
                time.sleep(2)
    if not binary.exists():
        log = (home / "build.log").read_text()[-3000:] if (home / "build.log").exists() else "(no log)"
        _missing(f"its build failed; the end of {home / 'build.log'}:\n{log}")
    return binary


def run(helm: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HELM_CACHE_HOME": "/nonexistent-helm-cache"})


def render(helm: Path, *args: str) -> dict[str, dict]:
    """The manifests `helm template` writes, by `Kind/name`."""
    result = run(helm, "template", "lw", str(CHART), *args)
    assert result.returncode == 0, result.stderr
    manifests = [m for m in yaml.safe_load_all(result.stdout) if m]
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in manifests}


def of_kind(manifests: dict[str, dict], *kinds: str) -> list[dict]:
    return [m for m in manifests.values() if m["kind"] in kinds]


def workload(manifests: dict[str, dict]) -> dict:
    (found,) = of_kind(manifests, "Deployment", "StatefulSet")
    return found


@pytest.fixture(scope="module")
def default(helm) -> dict[str, dict]:
    return render(helm)


@pytest.fixture(scope="module")
def ha(helm) -> dict[str, dict]:
    return render(helm, "-f", str(HA_VALUES))


@pytest.mark.parametrize("values", [[], ["-f", str(HA_VALUES)]], ids=["default", "ha"])
def test_helm_lint_strict_passes(helm, values):
    result = run(helm, "lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 chart(s) failed" in result.stdout


def test_the_built_helm_is_the_pinned_release(helm):
    assert f'Version:"{_helm_version()}"' in run(helm, "version").stdout


@pytest.mark.parametrize("manifests", ["default", "ha"])
def test_the_pod_runs_as_non_root_on_a_read_only_root_with_no_capabilities(request, manifests):
    pod = workload(request.getfixturevalue(manifests))["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user (Dockerfile)
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
    }
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize("manifests", ["default", "ha"])
def test_the_probes_ask_healthz_for_liveness_and_readyz_for_readiness_on_the_served_port(request, manifests):
    rendered = request.getfixturevalue(manifests)
    (container,) = workload(rendered)["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
    (port,) = container["ports"]
    served = yaml.safe_load(of_kind(rendered, "ConfigMap")[0]["data"]["lagwatch.yaml"])["http"]["port"]
    assert port == {"name": "http", "containerPort": served, "protocol": "TCP"}
    (service,) = of_kind(rendered, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert container["resources"]["requests"] and "memory" in container["resources"]["limits"]


def _mounts(manifests: dict[str, dict]) -> dict[str, dict]:
    spec = workload(manifests)["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    return {m["mountPath"]: {**m, "volume": volumes.get(m["name"])} for m in spec["containers"][0]["volumeMounts"]}


def test_by_default_the_state_is_an_emptydir_in_a_deployment(default):
    assert workload(default)["kind"] == "Deployment"
    mounts = _mounts(default)
    assert "emptyDir" in mounts["/var/lib/lagwatch"]["volume"]
    assert mounts["/etc/lagwatch"]["readOnly"] is True and "configMap" in mounts["/etc/lagwatch"]["volume"]
    assert not of_kind(default, "PersistentVolumeClaim", "Secret", "ServiceMonitor", "PodDisruptionBudget")
    (container,) = workload(default)["spec"]["template"]["spec"]["containers"]
    assert {"name": "LAGWATCH_STATE_DIR", "value": "/var/lib/lagwatch"} in container["env"]


def test_one_replica_with_persistence_gets_a_claim_and_is_replaced_not_rolled(helm):
    rendered = render(helm, "--set", "persistence.enabled=true")
    deployment = workload(rendered)
    assert deployment["kind"] == "Deployment" and deployment["spec"]["strategy"] == {"type": "Recreate"}
    (claim,) = of_kind(rendered, "PersistentVolumeClaim")
    assert _mounts(rendered)["/var/lib/lagwatch"]["volume"]["persistentVolumeClaim"]["claimName"] == \
        claim["metadata"]["name"]


def test_ha_replicas_coordinate_and_each_keeps_its_own_volume(ha):
    statefulset = workload(ha)
    assert statefulset["kind"] == "StatefulSet" and statefulset["spec"]["replicas"] == 3
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "state"
    assert _mounts(ha)["/var/lib/lagwatch"]["name"] == "state"
    config = yaml.safe_load(of_kind(ha, "ConfigMap")[0]["data"]["lagwatch.yaml"])
    assert config["coordination"]["cluster"] == config["clusters"][0]["name"]
    (budget,) = of_kind(ha, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1


def test_the_service_monitor_scrapes_metrics_from_the_service(ha):
    (monitor,) = of_kind(ha, "ServiceMonitor")
    (service,) = of_kind(ha, "Service")
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


@pytest.mark.parametrize("manifests", ["default", "ha"])
def test_the_config_reaching_the_pod_is_a_valid_lagwatch_config_with_its_secrets_from_the_secret(
        request, manifests, tmp_path):
    rendered = request.getfixturevalue(manifests)
    mounts = _mounts(rendered)
    (container,) = workload(rendered)["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "-c", "/etc/lagwatch/lagwatch.yaml"]
    config_map = of_kind(rendered, "ConfigMap")[0]
    assert mounts["/etc/lagwatch"]["volume"]["configMap"]["name"] == config_map["metadata"]["name"]
    tree = yaml.safe_load(config_map["data"]["lagwatch.yaml"])
    secrets = {}
    for secret in of_kind(rendered, "Secret"):
        assert mounts["/run/secrets/lagwatch"]["volume"]["secret"]["secretName"] == secret["metadata"]["name"]
        secrets = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    def local(node):
        """Each `<key>_file` (and TLS file) pointing into the Secret's mount, read from the rendered Secret."""
        if isinstance(node, dict):
            return {k: local(v) for k, v in node.items()}
        if isinstance(node, list):
            return [local(v) for v in node]
        if isinstance(node, str) and node.startswith("/run/secrets/lagwatch/"):
            name = node.rsplit("/", 1)[1]
            assert name in secrets, f"{node} is not a key of the chart's Secret"
            (tmp_path / name).write_text(secrets[name])
            return str(tmp_path / name)
        return node

    parsed = lagwatch_config.parse(local(tree), {})  # raises ConfigError with every problem and its field
    assert parsed.clusters
    if manifests == "ha":
        assert parsed.coordination is not None and len(secrets) == 4
        assert parsed.clusters[0].security.password.get_secret_value() == "change-me"


def test_no_secret_value_appears_outside_the_secret(helm):
    marker = "s3cr3t-value-42"
    rendered = render(helm, "-f", str(HA_VALUES), "--set", f"secrets.kafka-password={marker}")
    for name, manifest in rendered.items():
        if manifest["kind"] != "Secret":
            assert marker not in yaml.safe_dump(manifest), name
    (secret,) = of_kind(rendered, "Secret")
    assert base64.b64decode(secret["data"]["kafka-password"]).decode() == marker


def test_an_existing_secret_is_mounted_instead_of_one_made_from_values(helm):
    rendered = render(helm, "-f", str(HA_VALUES), "--set", "existingSecret=ops-lagwatch")
    assert not of_kind(rendered, "Secret")
    assert _mounts(rendered)["/run/secrets/lagwatch"]["volume"]["secret"]["secretName"] == "ops-lagwatch"


@pytest.mark.parametrize("args, message", [
    (["--set", "replicaCount=2"], "replicaCount > 1 needs config.coordination"),
    (["-f", str(HA_VALUES), "--set", "persistence.existingClaim=mine"], "existingClaim serves one replica only"),
], ids=["replicas-without-coordination", "shared-claim"])
def test_values_lagwatch_cannot_run_with_are_refused_with_the_reason(helm, args, message):
    result = run(helm, "template", "lw", str(CHART), *args)
    assert result.returncode != 0 and message in result.stderr, result.stderr
