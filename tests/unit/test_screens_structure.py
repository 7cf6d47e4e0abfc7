"""The screens package's shape (issue 12): no import cycle among its modules, no module
using another's private names, and only the App moving between full screens (a screen
dismisses a result; it may push modals of its own).

Read from the source with ``ast``: nothing is imported, so no Textual is needed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set, Tuple

SCREENS = Path(__file__).resolve().parents[2] / "screens"


def _modules() -> Dict[str, ast.Module]:
    out = {}
    for path in sorted(SCREENS.rglob("*.py")):
        rel = path.relative_to(SCREENS.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return out


def _imports(name: str, tree: ast.Module, is_package: bool) -> List[Tuple[str, List[str]]]:
    """(absolute module, imported names) for every import, also inside functions."""
    out = []
    package = name if is_package else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            out.append((base, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
    return out


def _graph() -> Dict[str, Set[str]]:
    mods = _modules()
    packages = {n for n in mods if (SCREENS.parent / n.replace(".", "/") / "__init__.py").exists()}
    graph: Dict[str, Set[str]] = {n: set() for n in mods}
    for name, tree in mods.items():
        for target, names in _imports(name, tree, name in packages):
            for cand in [f"{target}.{n}" for n in names] + [target]:
                if cand in mods and cand != name:
                    graph[name].add(cand)
                    break
    return graph


def _cycle(graph: Dict[str, Set[str]]) -> List[str]:
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_no_import_cycle_among_screens_modules() -> None:
    cycle = _cycle(_graph())
    assert not cycle, " -> ".join(cycle)


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_no_screens_module_imports_private_names_of_another() -> None:
    mods = _modules()
    bad = []
    for name, tree in mods.items():
        is_pkg = (SCREENS.parent / name.replace(".", "/") / "__init__.py").exists()
        for target, names in _imports(name, tree, is_pkg):
            if not target.startswith("screens"):
                continue
            # a package may re-export its own private modules (screens.widgets._modals)
            own_package = target.rsplit(".", 1)[0] == name and is_pkg
            for n in names:
                if n.startswith("_") and not own_package:
                    bad.append(f"{name}: from {target} import {n}")
            if target.rsplit(".", 1)[-1].startswith("_") and not (
                    is_pkg and target.rsplit(".", 1)[0] == name):
                bad.append(f"{name}: imports the private module {target}")
    assert not bad, bad


def _call_name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def test_only_the_app_moves_between_full_screens() -> None:
    bad = []
    for name, tree in _modules().items():
        if name == "screens.app":
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = _call_name(node.func)
            if called in ("switch_screen", "pop_screen", "switch_mode"):
                bad.append(f"{name}:{node.lineno} {called}")
            if called == "push_screen":
                arg = node.args[0] if node.args else None
                pushed = _call_name(arg.func) if isinstance(arg, ast.Call) else ""
                if not pushed.endswith("Modal"):
                    bad.append(f"{name}:{node.lineno} push_screen({pushed or '?'})")
    assert not bad, bad
