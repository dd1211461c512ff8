"""The shape of the code: which package may import which, read from the source with ``ast``.

DESIGN "Architecture" and docs/ARCHITECTURE.md: the domains (partners, offers, jobs) use the
core (``marketplace``); the core imports a domain only in the factory, to plug it in; partners
knows neither offers nor jobs; offers and jobs do not know each other; no two modules import
each other, directly or round a circle; every registration is an explicit call in an
``init_app``, never an import kept for its side effect; no module grows past 600 lines, nor
any Python file of the tests or the benchmarks.

``PENDING`` lists what another change of issue 15 removes; an entry that no longer happens
fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("marketplace", "partners", "offers", "jobs")
DOMAINS = {"partners", "offers", "jobs"}
# Where the application is built: the only place the core may import a domain.
FACTORY = "marketplace"
MAX_LINES = 600
# Bulk data, not code: exempt from the size rule.
DATA_TABLES = {"marketplace/seed_scale_data.py"}
# Held to the size rule too, though outside the import rules: the tests and the benchmarks.
SIZED = ("tests", "benchmarks")
# (rule, subject) pairs another part of issue 15 removes (i15b splits these modules).
PENDING: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    """One import statement: who imports what, where, and whether inside a function."""

    source: str
    target: str
    line: int
    in_function: str | None
    at_bottom: bool


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name inside one) lives in."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    seen_code = False

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:
            parent = package
            for _ in range(node.level - 1):
                parent = parent.rpartition(".")[0]
            base = f"{parent}.{base}" if base else parent
        return [f"{base}.{alias.name}" for alias in node.names]

    def visit(node: ast.AST, function: str | None, top: bool) -> None:
        nonlocal seen_code
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for name in targets(child):
                    target = _resolve(name)
                    if target is not None and target != module:
                        found.append(
                            Import(module, target, child.lineno, function, top and seen_code)
                        )
                continue
            if top and not _is_header(child):
                seen_code = True
            inner = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = f"{function}.{child.name}" if function else child.name
            visit(child, inner, top=False)

    visit(tree, None, top=True)
    return found


def _is_header(node: ast.AST) -> bool:
    """What may come before or between a module's imports: its docstring, ``if TYPE_CHECKING``."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return True
    return bool(isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test))


IMPORTS = [found for module, path in MODULES.items() for found in _imports(module, path)]


def _top(module: str) -> str:
    return module.split(".")[0]


def _is_wiring(found: Import) -> bool:
    """An import inside the factory's functions or a package's ``init_app``: plugging in."""
    if found.in_function is None:
        return False
    if found.source == FACTORY:
        return True
    return MODULES[found.source].name == "__init__.py" and found.in_function == "init_app"


def _violations() -> dict[tuple[str, str], str]:
    """Every broken rule as ``(rule, subject) -> where``."""
    broken: dict[tuple[str, str], str] = {}

    def note(rule: str, subject: str, where: str) -> None:
        broken.setdefault((rule, subject), where)

    for found in IMPORTS:
        where = f"{MODULES[found.source].relative_to(ROOT)}:{found.line}"
        source, target = _top(found.source), _top(found.target)
        if (
            source == "marketplace"
            and target in DOMAINS
            and not (found.source == FACTORY and found.in_function is not None)
        ):
            note("core imports a domain", f"{found.source} -> {found.target}", where)
        if source == "partners" and target in {"offers", "jobs"}:
            note("partners imports offers or jobs", f"{found.source} -> {found.target}", where)
        if {source, target} == {"offers", "jobs"}:
            note("offers and jobs import each other", f"{found.source} -> {found.target}", where)
        if found.at_bottom:
            note("import at the bottom of a module", found.source, where)
        if found.target == FACTORY and found.source != FACTORY:
            note("the factory imported by the application", found.source, where)

    for cycle in _cycles():
        note("import circle", " -> ".join(cycle), "")

    for path in _sized():
        relative = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES and relative not in DATA_TABLES:
            note("size", relative, f"{lines} lines")

    for module, path in MODULES.items():
        relative = path.relative_to(ROOT).as_posix()
        for line, comment in _comments(path):
            if "register" in comment.lower() and "noqa" in comment.lower():
                note("import kept for its side effect", module, f"{relative}:{line}")
    return broken


def _sized() -> list[Path]:
    """The Python files the size rule holds: the packages', the tests' and the benchmarks'
    (migrations, generated, are not among them)."""
    paths = list(MODULES.values())
    for folder in SIZED:
        paths += sorted((ROOT / folder).rglob("*.py"))
    return [path for path in paths if "migrations" not in path.relative_to(ROOT).parts]


def _comments(path: Path) -> list[tuple[int, str]]:
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return [(token.start[0], token.string) for token in tokens if token.type == tokenize.COMMENT]


def _cycles() -> list[list[str]]:
    """The strongly connected groups of modules (Tarjan), ignoring the wiring imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    for found in IMPORTS:
        # A package's own ``__init__`` is loaded before its modules: importing it is no circle.
        if not _is_wiring(found) and not found.source.startswith(f"{found.target}."):
            graph[found.source].add(found.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph[node]):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(MODULES):
        if node not in index:
            connect(node)
    return groups


VIOLATIONS = _violations()


def test_the_graph_is_read():
    # The reader sees the known wiring: the factory plugs the offers package in.
    assert any(
        found.source == FACTORY and found.target == "offers" and found.in_function
        for found in IMPORTS
    )
    assert any(
        found.source == "offers.models" and found.target == "partners.models" for found in IMPORTS
    )


@pytest.mark.parametrize(
    "rule",
    [
        "core imports a domain",
        "partners imports offers or jobs",
        "offers and jobs import each other",
        "import circle",
        "import at the bottom of a module",
        "import kept for its side effect",
        "the factory imported by the application",
        "size",
    ],
)
def test_no_forbidden_edge(rule):
    broken = {
        f"{subject} ({where})"
        for (name, subject), where in VIOLATIONS.items()
        if name == rule and (name, subject) not in PENDING
    }
    assert not broken, f"{rule}: {sorted(broken)}"


def test_pending_entries_are_still_needed():
    stale = PENDING - set(VIOLATIONS)
    assert not stale, f"fixed, remove from PENDING: {sorted(stale)}"


def test_each_domain_and_reacting_core_package_wires_itself():
    for package in (
        "partners",
        "offers",
        "jobs",
        "marketplace.membership",
        "marketplace.payments",
        "marketplace.treasury",
        "marketplace.privacy",
        "marketplace.notifications",
    ):
        tree = ast.parse(MODULES[package].read_text())
        names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert "init_app" in names, package
