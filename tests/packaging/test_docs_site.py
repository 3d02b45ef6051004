"""The docs site (mkdocs.yml, docs/) builds with `mkdocs build --strict` without the network, and its checks
bite: a broken link or anchor fails the build. The runbook has an entry for every status, every status reason
and every warning or error event the code logs; the README stays two screens and its links resolve."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exporter.evaluator import status

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RUNBOOK = DOCS / "runbook.md"
# Any fetch would go to a closed port on loopback and fail: the build must need none.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": "",
           "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "NO_MKDOCS_2_WARNING": "1"}


def mkdocs(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **OFFLINE})


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = mkdocs("build", "--strict", "--site-dir", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_site_builds_strict_and_offline_with_every_page(site):
    pages = {p.relative_to(DOCS).with_suffix(".html").as_posix() for p in DOCS.rglob("*.md")}
    built = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    assert pages <= built, sorted(pages - built)
    assert "lagwatch benchmark results" in (site / "bench-results.html").read_text()  # bench/RESULTS.md, included
    assert "clusters:" in (site / "configuration.html").read_text()  # config/lagwatch.yaml, included
    for page in site.rglob("*.html"):  # nothing loaded from elsewhere when the pages are read
        assert not re.search(r'<(?:link|script)[^>]+(?:href|src)="https?://', page.read_text()), page


def test_a_broken_link_or_anchor_fails_the_strict_build(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config.update(docs_dir=str(tmp_path / "docs"), nav=["index.md", "other.md"])
    config["markdown_extensions"] = [e for e in config["markdown_extensions"]
                                     if not (isinstance(e, dict) and "pymdownx.snippets" in e)]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Here\n")
    for link, complaint in (("other.md#nowhere", "nowhere"), ("missing.md", "missing.md")):
        (tmp_path / "docs" / "index.md").write_text(f"# Home\n\n[a link]({link})\n")
        (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
        result = mkdocs("build", "--strict", "--site-dir", str(tmp_path / "site"), cwd=tmp_path)
        assert result.returncode != 0 and complaint in result.stderr, result.stderr


def runbook_entries() -> set[str]:
    return set(re.findall(r"^### `([^`]+)`", RUNBOOK.read_text(), re.M))


def logged_events(*levels: str) -> dict[str, str]:
    """Every structlog event the product logs at these levels: event -> where."""
    found = {}
    pattern = re.compile(rf'\.(?:{"|".join(levels)})\(\s*"([a-z][a-z0-9_]*)"')
    for path in sorted((ROOT / "exporter").rglob("*.py")):
        text = path.read_text()
        for match in pattern.finditer(text):
            found.setdefault(match.group(1), f"{path.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 1}")
    return found


def test_the_runbook_has_an_entry_for_every_warning_and_error_the_code_logs():
    events = logged_events("warning", "error", "critical", "exception")
    assert len(events) >= 40
    missing = {e: where for e, where in events.items() if e not in runbook_entries()}
    assert not missing, (f"add a `### \\`EVENT\\`` entry (what it means, what to check) to docs/runbook.md for: "
                         f"{missing}")


def test_the_runbook_has_an_entry_for_every_status_and_every_reason():
    codes = {code.value for code in status.Code}
    reasons = {value.reason for value in vars(status).values() if isinstance(value, status.Status)}
    reasons.add(status.STOP_REASON)
    assert {"OK", "STOP"} <= codes and {"window_filling", "no_member_stuck_or_gone"} <= reasons
    assert not (codes | reasons) - runbook_entries(), sorted((codes | reasons) - runbook_entries())


def test_the_readme_fits_on_two_screens_and_its_links_resolve():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    assert len(links) >= 15
    assert not [link for link in links if "://" not in link and not (ROOT / link).exists()]
    for command in ("./scripts/run", "./scripts/test", "./scripts/test tests/unit"):
        assert command in readme
