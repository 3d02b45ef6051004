"""Fetch the services' artifacts from Maven Central with Maven, once per machine, into the cache."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from devstack.common import Progress, StackError, cache_dir, require_tool, stderr_progress
from devstack.versions import LOG4J_VERSION

_KAFKA_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lagwatch.devstack</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version></dependency>
    <!-- ConsumerGroupCommand: Kafka's own lag tool, the reference our exactness tests compare with -->
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId>
      <version>{kafka}</version></dependency>
    <!-- Kafka's poms bring no logging backend; without one the broker log would be empty -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_STREAMS_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lagwatch.devstack</groupId><artifactId>kafka-streams-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-streams</artifactId>
      <version>{kafka}</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version></dependency>
  </dependencies>
</project>
"""

_MARKER = ".complete"


def _mvn(args: list[str], cwd: Path, what: str) -> None:
    mvn = require_tool("mvn", "install Maven (Debian: apt-get install maven)")
    result = subprocess.run(
        [mvn, "-B", "-q", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-30:]
        raise StackError(f"maven could not fetch {what}:\n" + "\n".join(output))


def kafka_libs(version: str, progress: Progress = stderr_progress) -> Path:
    """A directory holding the Kafka broker, kafka-tools and a log4j backend, all jars."""
    # Kafka was built for Scala 2.13 from 2.4 on; before, 2.12 is the newest build.
    scala = "2.13" if tuple(int(p) for p in version.split(".")[:2]) >= (2, 4) else "2.12"
    pom = _KAFKA_POM.format(kafka=version, log4j=LOG4J_VERSION, scala=scala)
    return _copy_dependencies(cache_dir() / f"kafka-{version}" / "libs", pom, f"Apache Kafka {version}", progress)


def kafka_streams_libs(version: str, progress: Progress = stderr_progress) -> Path:
    """Kafka Streams and its runtime (RocksDB included): for the tests' own streams application."""
    pom = _STREAMS_POM.format(kafka=version, log4j=LOG4J_VERSION)
    return _copy_dependencies(
        cache_dir() / f"kafka-streams-{version}" / "libs", pom, f"Kafka Streams {version}", progress
    )


def _copy_dependencies(target: Path, pom: str, what: str, progress: Progress) -> Path:
    if (target / _MARKER).exists():
        return target
    progress(f"fetching {what} jars from Maven Central (first run only) ...")
    if target.exists():
        shutil.rmtree(target)
    with tempfile.TemporaryDirectory(prefix="lagwatch-mvn-") as tmp:
        (Path(tmp) / "pom.xml").write_text(pom)
        _mvn(
            ["dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={target}"],
            Path(tmp),
            what,
        )
    jars = list(target.glob("*.jar"))
    progress(f"{what}: {len(jars)} jars in {target}")
    (target / _MARKER).touch()
    return target


def elasticsearch_home(version: str, progress: Progress = stderr_progress) -> Path:
    """The unpacked integ-test-zip distribution of Elasticsearch (no bundled JDK, few modules)."""
    return _integ_test_zip("org.elasticsearch.distribution.integ-test-zip", "elasticsearch", "Elasticsearch",
                           version, progress)


def opensearch_home(version: str, progress: Progress = stderr_progress) -> Path:
    """The unpacked integ-test-zip distribution of OpenSearch (no bundled JDK; its one module is the HTTP
    transport: no security, ISM, alerting or dashboards plugins)."""
    return _integ_test_zip("org.opensearch.distribution.integ-test-zip", "opensearch", "OpenSearch", version, progress)


def opensearch_plugin_zip(name: str, version: str, progress: Progress = stderr_progress) -> Path:
    """`org.opensearch.plugin:<name>:<version>:zip` (e.g. opensearch-security 2.19.4.0), downloaded once into
    the cache, for `bin/opensearch-plugin install`."""
    downloads = cache_dir() / "downloads"
    archive = downloads / f"{name}-{version}.zip"
    if archive.exists():
        return archive
    progress(f"fetching the OpenSearch plugin {name} {version} from Maven Central (first run only) ...")
    downloads.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lagwatch-mvn-") as tmp:
        _mvn(["dependency:copy", f"-Dartifact=org.opensearch.plugin:{name}:{version}:zip",
              f"-DoutputDirectory={downloads}"], Path(tmp), f"{name} {version}")
    if not archive.exists():
        raise StackError(f"maven reported success but {archive} is missing")
    return archive


def _integ_test_zip(group: str, name: str, product: str, version: str, progress: Progress) -> Path:
    """`<group>:<name>:<version>:zip` from Maven Central, unpacked once into the cache; its home directory."""
    base = cache_dir() / f"{name}-{version}"
    if (base / _MARKER).exists():
        return base / f"{name}-{version}"
    progress(f"fetching {product} {version} (integ-test-zip) from Maven Central (first run only) ...")
    downloads = cache_dir() / "downloads"
    downloads.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lagwatch-mvn-") as tmp:
        _mvn(
            ["dependency:copy", f"-Dartifact={group}:{name}:{version}:zip", f"-DoutputDirectory={downloads}"],
            Path(tmp),
            f"{product} {version}",
        )
    archive = downloads / f"{name}-{version}.zip"
    if not archive.exists():
        raise StackError(f"maven reported success but {archive} is missing")
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    progress(f"unpacking {archive.name} ...")
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            extracted = Path(zf.extract(info, base))
            mode = (info.external_attr >> 16) & 0o777
            if mode:  # zipfile drops the executable bits the bin/ scripts need
                extracted.chmod(mode)
    home = base / f"{name}-{version}"
    if not (home / "bin" / name).exists():
        raise StackError(f"unexpected layout in {archive}: no bin/{name} under {home}")
    (base / _MARKER).touch()
    return home
