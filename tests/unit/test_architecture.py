"""docs/architecture.md is the map of the code: its folder table must match exporter/'s folders, and every import
must follow the table's "may import" column. Also: no import cycle (bench and devstack included), no module over
the size limit, the local stack never imported by the product at module level."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 350
# Foundations every folder may use: logging and the table of tested releases.
FOUNDATIONS = {"logs", "versions", "__init__"}


def _rules() -> dict[str, set[str]]:
    """The "may import" column of the doc's folder table: `| `kafka/` | ... | `lag`, `config` |`."""
    rules = {}
    for line in DOC.read_text().splitlines():
        row = re.match(r"^\|\s*`([a-z_]+)(/|\.py)`\s*\|.*\|\s*([^|]*)\|\s*$", line)
        if row:
            rules[row.group(1) + ("/" if row.group(2) == "/" else "")] = set(re.findall(r"`([a-z_*]+)`", row.group(3)))
    return rules


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path, top_level_only: bool = False) -> list[tuple[str, int]]:
    """(imported module, line) for each import in the file; `from a import b` yields a.b when a/b is a module."""
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    if top_level_only:  # `if TYPE_CHECKING:` blocks never run
        nodes = [n for n in nodes if not (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
        nodes = [c for n in nodes for c in ([n] if not isinstance(n, (ast.If, ast.Try)) else ast.walk(n))]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (ROOT / candidate.replace(".", "/")).with_suffix(".py").exists() or (
                    ROOT / candidate.replace(".", "/") / "__init__.py").exists()
                found.append((candidate if is_module else node.module, node.lineno))
    return found


def _folder(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "exporter":
        return None
    if len(parts) == 1:
        return "__init__"
    return parts[1] if (ROOT / "exporter" / parts[1]).is_dir() else parts[1].removesuffix(".py")


def test_the_doc_lists_every_folder_of_exporter_and_no_other():
    folders = {p.name for p in (ROOT / "exporter").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    in_doc = {name.rstrip("/") for name in _rules() if name.endswith("/")}
    assert in_doc == folders, {"not in the doc": sorted(folders - in_doc), "not in the tree": sorted(in_doc - folders)}


def test_every_import_in_exporter_follows_the_doc_s_rules():
    rules = _rules()
    broken = []
    for path in _sources("exporter"):
        here = _folder(_module_name(path))
        allowed = rules.get(here + "/", rules.get(here, set())) if here not in FOUNDATIONS else set()
        for module, line in _imports(path):
            if module.split(".")[0] == "devstack" and here != "cli":
                broken.append(f"{path.relative_to(ROOT)}:{line} imports {module} (the local stack is not in the product)")
                continue
            there = _folder(module)
            if there is None or there == here or there in FOUNDATIONS or "*" in allowed or there in allowed:
                continue
            broken.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {module} ({there})")
    assert not broken, "\n".join(broken)


def test_the_product_imports_the_local_stack_only_lazily_from_the_cli():
    for path in _sources("exporter"):
        assert not [m for m, _ in _imports(path, top_level_only=True) if m.split(".")[0] == "devstack"], path


def test_no_import_cycle_between_modules_including_bench_and_devstack():
    modules = {_module_name(p): p for p in _sources("exporter", "devstack", "bench")}
    graph = {name: {m for m, _ in _imports(path, top_level_only=True) if m in modules and m != name}
             for name, path in modules.items()}
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, cycles


@pytest.mark.parametrize("top", ["exporter", "devstack", "bench"])
def test_no_module_is_over_the_size_limit(top):
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in _sources(top)}
    assert not {p: n for p, n in sizes.items() if n > MAX_LINES}, {p: n for p, n in sizes.items() if n > MAX_LINES}


def _tree_modules() -> set[str]:
    """The modules the doc's tree names, as paths under exporter/ (from its indentation: two spaces a level)."""
    block = DOC.read_text().split("```\nexporter/\n", 1)[1].split("```", 1)[0]
    found, folders = set(), []
    for line in block.splitlines():
        entry = re.match(r"^((?:  )+)(\S+)", line)
        if not entry:
            break  # the lines about the folders beside exporter/
        depth = len(entry.group(1)) // 2
        folders = folders[: depth - 1]
        name = entry.group(2)
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        elif name.endswith(".py"):
            found.add("/".join([*folders, name]))
    return found


def test_the_doc_s_tree_names_every_module_of_exporter_init_files_included():
    modules = {str(p.relative_to(ROOT / "exporter")) for p in _sources("exporter")}
    named = _tree_modules()
    assert {"__init__.py", "cli/__init__.py", "kafka/protocol/__init__.py"} <= named
    assert named == modules, {"not in the doc's tree": sorted(modules - named), "no such module": sorted(named - modules)}
