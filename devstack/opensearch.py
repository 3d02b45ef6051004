"""One OpenSearch node on 127.0.0.1 from the integ-test-zip distribution on Maven Central
(`org.opensearch.distribution.integ-test-zip:opensearch`), run like the Elasticsearch node.

That distribution is the server with its HTTP transport and nothing else: no security plugin (so no users,
TLS or roles), no ISM, alerting or dashboards plugins. OpenSearch 2.x runs on Java 11+, 3.x on Java 21+; the
node picks the first JDK of this machine that can run its version unless given one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devstack.common import Progress, StackError, stderr_progress
from devstack.elasticsearch import ElasticsearchNode, ExternalElasticsearch
from devstack.jdk import first_fitting, installed_jdks, java_problem, jdk_major, jvm_options_modules, release_value
from devstack.maven import opensearch_home
from devstack.versions import OPENSEARCH_VERSION

# The oldest Java each OpenSearch major runs on.
_MIN_JAVA = {1: 11, 2: 11, 3: 21}


def jdk_problem(jdk: Path, version: str, home: Path | None = None) -> str | None:
    """Why this JDK cannot run OpenSearch `version` (None: it can): its Java version, and the JDK modules the
    distribution's jvm.options adds for it (jdk.incubator.vector, which jlink-trimmed runtimes lack)."""
    problem = java_problem(jdk, "OpenSearch", version, _MIN_JAVA)
    if problem is not None:
        return problem
    have = jdk_major(jdk)
    if home is None or have is None:
        return None
    present = set((release_value(jdk, "MODULES") or "").split())
    missing = [m for m in jvm_options_modules(home / "config" / "jvm.options", have) if present and m not in present]
    return f"the JDK lacks module(s) {', '.join(missing)} that jvm.options adds" if missing else None


def jdk_for(version: str, progress: Progress = stderr_progress) -> Path:
    """The first JDK on this machine that runs OpenSearch `version` (devstack.jdk.installed_jdks order)."""
    home = opensearch_home(version, progress)
    return first_fitting(installed_jdks(), lambda jdk: jdk_problem(jdk, version, home))


@dataclass
class ExternalOpenSearch(ExternalElasticsearch):
    """An OpenSearch node somebody else runs (LAGWATCH_TEST_OS_URL): used as is, never started or stopped."""

    what = "OpenSearch"


@dataclass
class OpenSearchNode(ElasticsearchNode):
    """A throw-away single OpenSearch node; `start()` returns once cluster health is yellow or green."""

    product = "OpenSearch"
    waiting_for = "OpenSearch"
    executable = "opensearch"
    java_env = "OPENSEARCH"

    version: str = OPENSEARCH_VERSION

    def distribution(self) -> Path:
        return opensearch_home(self.version, self.progress)

    def jdk(self, home: Path) -> Path:
        if self.java_home is None:  # 3.x where the default Java is 17: the first JDK that fits
            return first_fitting(installed_jdks(), lambda jdk: jdk_problem(jdk, self.version, home))
        problem = jdk_problem(Path(self.java_home), self.version, home)
        if problem is not None:
            raise StackError(f"OpenSearch {self.version} cannot run on {self.java_home}: {problem}")
        return Path(self.java_home)

    def product_settings(self) -> dict[str, str]:
        return {}  # no security plugin in this distribution: nothing to turn off
