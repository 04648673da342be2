"""The layers stay as docs/architecture.md draws them: every import (at module level or inside a
function; `if TYPE_CHECKING:` blocks aside) points down, and no modules import each other in
a circle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cosbatch", "pipelines", "launch")

#: Floors, top first. A module may import its own floor's modules and any floor below.
FLOORS: list[tuple[str, ...]] = [
    ("cosbatch.cli", "cosbatch.api", "cosbatch.client"),
    ("cosbatch.controller",),
    ("launch",),
    ("pipelines",),
    ("cosbatch.operations", "cosbatch.manifests", "cosbatch.reports", "cosbatch.control", "cosbatch.settings"),
    ("cosbatch.store", "cosbatch.storage", "cosbatch.wire"),
    ("cosbatch.models", "cosbatch.lifecycle", "cosbatch.names", "cosbatch.errors", "cosbatch.logs", "cosbatch"),
]
#: Known exceptions, each with its reason. An entry here is a debt, not a design.
ALLOWED_UPWARD = {
    # RunnerConfig is a value the settings carry; launch's runner modules stay below the controller.
    ("cosbatch.settings", "launch.base"),
}


def floor_of(module: str) -> int:
    if module == "cosbatch":  # the package's face (cosbatch.Client) sits on top
        return 0
    best, where = -1, len(FLOORS)
    for i, prefixes in enumerate(FLOORS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, where = len(p), i
    return where


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """Our modules `path` imports (resolving `from pkg import module` to the module)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        out.update(n for n in names if n.split(".")[0] in PACKAGES and n in known)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports(p, known) - {m} for m, p in known.items()}


def test_every_import_points_down():
    upward = sorted(
        (m, dep) for m, deps in graph().items() for dep in deps
        if floor_of(dep) < floor_of(m) and (m, dep) not in ALLOWED_UPWARD
    )
    assert upward == [], "imports from a lower floor upward: " + ", ".join(f"{m} -> {d}" for m, d in upward)


def test_no_import_circles():
    g = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(g.get(node, ())):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for module in sorted(g):
        if module not in state:
            visit(module, [])
    # A package's __init__ re-exporting its own modules is not a circle between modules.
    real = [c for c in cycles if not all(m == c[0] or m.startswith(c[0] + ".") or c[0].startswith(m + ".")
                                         for m in c)]
    assert real == [], "import circles: " + "; ".join(" -> ".join(c) for c in real)
