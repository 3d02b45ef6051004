"""Which JDK a service of the local stack runs on: its Java version, whether it can boot a distribution's
modules, and the JDKs installed on this machine to choose from."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from devstack.common import StackError


def java_problem(jdk: Path, product: str, version: str, min_java: dict[int, int]) -> str | None:
    """Why this JDK is too old for `product` `version` (`min_java`: its oldest Java per major), or has no
    bin/java; None when neither."""
    if not (jdk / "bin" / "java").exists():
        return f"no bin/java under {jdk}"
    major = version.split(".")[0]
    need = min_java.get(int(major)) if major.isdigit() else None
    have = jdk_major(jdk)
    if need is not None and have is not None and have < need:
        return f"{product} {version} needs Java {need}+, this is Java {have}"
    return None


def release_value(home: Path, key: str) -> str | None:
    """One value of a JDK's `release` file (JAVA_VERSION, MODULES); None when it cannot be read."""
    try:
        text = (home / "release").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1].strip().strip('"')
    return None


def jdk_major(home: Path) -> int | None:
    """The Java feature version of a JDK (17, 21, 25); None when it cannot be told."""
    head = (release_value(home, "JAVA_VERSION") or "").split(".")[0]
    return int(head) if head.isdigit() else None


def _applies(java_range: str, major: int) -> bool:
    """A jvm.options line prefix: `N` (that version), `N-` (N and later) or `N-M`."""
    low, dash, high = java_range.partition("-")
    if not low.isdigit() or (high and not high.isdigit()):
        return False
    if not dash:
        return major == int(low)
    return int(low) <= major and (not high or major <= int(high))


def jvm_options_modules(options: Path, major: int) -> list[str]:
    """The modules a jvm.options file adds (`[range:]--add-modules=a,b`) for this Java version."""
    modules: list[str] = []
    try:
        lines = options.read_text().splitlines()
    except OSError:
        return modules
    for line in lines:
        line = line.strip()
        java_range, colon, option = line.partition(":")
        if not colon or not java_range[:1].isdigit():
            java_range, option = "", line
        if option.startswith("--add-modules=") and (not java_range or _applies(java_range, major)):
            modules += [m for m in option.split("=", 1)[1].split(",") if m]
    return modules


def boot_problem(jdk: Path, module_path: Path, modules: list[str]) -> str | None:
    """Resolve a distribution's boot layer on this JDK without starting it (`java -p lib --add-modules
    ... -version`); the JVM's own message when it cannot (e.g. "Module jdk.jdi not found, required by
    org.elasticsearch.entitlement"), None when it can."""
    java = jdk / "bin" / "java"
    if not java.exists():
        return f"no bin/java under {jdk}"
    argv = [str(java), "-Xshare:auto", "-p", str(module_path), "--add-modules", ",".join(modules), "-version"]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{java} could not be run: {exc}"
    if result.returncode == 0:
        return None
    # The JVM writes boot-layer errors to stdout, option errors to stderr.
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return " ".join(lines[-2:]) or f"{java} exited with code {result.returncode}"


def installed_jdks() -> list[Path]:
    """JDKs to choose from, most explicit first: LAGWATCH_JAVA_HOME, JAVA_HOME, `java` on PATH, then every
    JDK under /usr/lib/jvm (newest Java first)."""
    found: list[Path] = []
    for var in ("LAGWATCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(var):
            found.append(Path(os.environ[var]))
    java = shutil.which("java")
    if java:
        found.append(Path(java).resolve().parent.parent)
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        homes = [p for p in jvm.iterdir() if (p / "bin" / "java").exists() and not p.is_symlink()]
        found += sorted(homes, key=lambda p: (-(jdk_major(p) or 0), p.name))
    unique: list[Path] = []
    for home in found:
        if (home / "bin" / "java").exists() and home.resolve() not in {u.resolve() for u in unique}:
            unique.append(home)
    return unique


def first_fitting(candidates: list[Path], problem_of) -> Path:
    """The first JDK for which `problem_of(jdk)` is None; otherwise one error saying why each was refused."""
    refused = []
    for jdk in candidates:
        problem = problem_of(jdk)
        if problem is None:
            return jdk
        refused.append(f"{jdk}: {problem}")
    raise StackError("no fitting JDK:\n  " + ("\n  ".join(refused) or "(no JDK found on this machine)"))
