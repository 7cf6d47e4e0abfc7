"""Import contracts: the core stays headless and free of the steps it runs, no import cycles.

Every module of wizard/, recipes/ and screens/ is parsed (``ast``); module-level and
function-level imports both count (a lazy import is still a dependency). The contracts:

- ``wizard`` imports no ``textual``, ``screens`` or ``recipes``, except the entry point
  ``wizard.cli`` (documented in its module docstring: it hands the steps and the TUI their
  parts);
- ``recipes`` imports no ``textual`` or ``screens``;
- ``screens`` never imports ``wizard.cli`` (the entry point hands the App what it needs);
- no import cycle among the project's modules.

The layering contracts count imports under ``if TYPE_CHECKING:`` too (the core must not even
name Textual's types); the cycle check does not: a type-only back-reference (a section of the
answers naming the ``Answers`` model it belongs to) is never executed, so it cannot form an
import cycle (import-linter's ``exclude_type_checking_imports`` makes the same choice).

A subprocess test then imports the core for real and checks ``sys.modules``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, NamedTuple, Set

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("wizard", "recipes", "screens")
ENTRY_POINT = "wizard.cli"

#: package -> top-level names its modules must not import
FORBIDDEN = {
    "wizard": ("textual", "screens", "recipes"),
    "recipes": ("textual", "screens"),
}

def module_files(root: Path = REPO) -> Dict[str, Path]:
    """module name -> file, for every module of the three packages under ``root``."""
    out: Dict[str, Path] = {}
    for pkg in PACKAGES:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


class Import(NamedTuple):
    target: str
    line: int
    typing_only: bool
    """Inside ``if TYPE_CHECKING:`` (never executed)."""


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, known: Set[str]) -> List[Import]:
    """Every import in the file, at any depth (functions, classes, ``if`` blocks).

    ``from a import b`` names ``a.b`` when that is a project module, else ``a``."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: List[Import] = []

    def visit(node: ast.AST, typing_only: bool) -> None:
        if isinstance(node, ast.Import):
            out.extend(Import(a.name, node.lineno, typing_only) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.append(Import(sub if sub in known else target, node.lineno, typing_only))
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, typing_only)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, typing_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), False)
    return out


Graph = Dict[str, List[Import]]


def import_graph(root: Path = REPO) -> Graph:
    files = module_files(root)
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def violations(graph: Graph) -> List[str]:
    """Every import that breaks a layering contract, as 'module:line imports target'."""
    out = []
    for name, imports in sorted(graph.items()):
        pkg = name.split(".")[0]
        for target, line, _typing in imports:
            top = target.split(".")[0]
            if pkg in FORBIDDEN and top in FORBIDDEN[pkg] and name != ENTRY_POINT:
                out.append(f"{name}:{line} imports {target}")
            if pkg == "screens" and (target == ENTRY_POINT
                                     or target.startswith(ENTRY_POINT + ".")):
                out.append(f"{name}:{line} imports {target} (the entry point)")
    return out


def cycles(graph: Graph) -> List[List[str]]:
    """The import cycles among project modules: strongly connected components of more than
    one module (or a module importing itself), each sorted; type-only imports left out."""
    edges = {n: sorted({i.target for i in imps if i.target in graph and not i.typing_only})
             for n, imps in graph.items()}
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(v: str) -> None:  # Tarjan; the graph is small, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in edges[v]:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def _describe(graph: Graph, comp: List[str]) -> str:
    members = set(comp)
    links = [f"{n}:{i.line} -> {i.target}" for n in comp for i in graph[n]
             if i.target in members and not i.typing_only]
    return " <-> ".join(comp) + " (" + "; ".join(links) + ")"


# --------------------------------------------------------------------------- the checker itself
def _tree(tmp_path: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    for pkg in PACKAGES:
        (tmp_path / pkg).mkdir(exist_ok=True)
        (tmp_path / pkg / "__init__.py").touch()
    return tmp_path


def test_the_checker_sees_lazy_relative_and_from_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "wizard/engine.py": """
            def default():
                from recipes import all_recipes
                return all_recipes()
        """,
        "wizard/cli.py": "import recipes\nfrom screens import app\n",
        "wizard/a.py": "from . import b\n",
        "wizard/b.py": "def f():\n    from .a import x\n",
        "screens/app.py": "def run():\n    from wizard.cli import main\n",
        "recipes/x.py": "from textual.app import App\n",
        "wizard/model.py": "from .section import Section\n",
        "wizard/section.py": """
            from typing import TYPE_CHECKING
            if TYPE_CHECKING:
                from textual.app import App
                from .model import Model
        """,
    })
    graph = import_graph(root)
    assert violations(graph) == [
        "recipes.x:1 imports textual.app",
        "screens.app:2 imports wizard.cli (the entry point)",
        "wizard.engine:3 imports recipes",
        "wizard.section:4 imports textual.app",
    ]
    assert cycles(graph) == [["screens.app", "wizard.cli"], ["wizard.a", "wizard.b"]]


# --------------------------------------------------------------------------- the contracts
def test_layers_hold() -> None:
    bad = violations(import_graph())
    assert not bad, "imports that break the layering contracts:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_describe(graph, c) for c in found)


#: every module of the core (all of wizard/ but the entry point), found from the files
CORE = sorted(n for n in module_files() if n.split(".")[0] == "wizard" and n != ENTRY_POINT)


def test_the_core_loads_no_textual_and_no_steps() -> None:
    """Import the core for real, open a dry-run target and plan a step defined here: neither
    Textual, the screens nor the recipes package may end up in ``sys.modules``."""
    code = textwrap.dedent(f"""
        import importlib, sys, tempfile
        for name in {CORE!r}:
            importlib.import_module(name)
        from wizard.answers import demo_answers_path
        from wizard.recipe import Recipe
        from wizard.target import TargetOptions, open_target

        class One(Recipe):
            id = "one"
            title = "One"

            def plan(self, ctx):
                return []

        target = open_target(TargetOptions(platform="debian12", dry_run=True,
                                           root=tempfile.mkdtemp()))
        engine = target.engine(target.load_answers(str(demo_answers_path())), [One()])
        assert [p.id for p in engine.plan()] == ["one"]
        bad = sorted(m for m in sys.modules
                     if m.split(".")[0] in ("textual", "screens", "recipes"))
        print(bad)
        sys.exit(1 if bad else 0)
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert res.returncode == 0, res.stdout + res.stderr
