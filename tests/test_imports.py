"""How the package's modules import each other (pyproject.toml's import-linter contracts hold the layers):
an import of the package's own modules sits at the top of its module, so the import graph is what the
contracts check and a cycle fails at import time, not half-way through a run. The command line
(``cli.py``) is the one exception: its commands import their layers when they run, so ``symcere --help``
answers without torch (tests/test_cli.py)."""
from __future__ import annotations

import ast
from pathlib import Path

import symcere_kit

PACKAGE = Path(symcere_kit.__file__).parent
EXEMPT = {"cli.py"}
# Function-level imports of the package's own modules allowed outside cli.py, each with why:
# {"path/inside/the/package.py": {"imported.module": "why"}}. Empty: every own import is at the top.
DOCUMENTED: dict[str, dict[str, str]] = {}


def function_level_imports(source: str, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import of ``symcere_kit``'s own modules inside a function or method of a
    module of ``package`` (dotted) whose code is ``source``."""
    tree = ast.parse(source)
    found = []
    inside = {id(node) for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(fn)}
    for node in ast.walk(tree):
        if id(node) not in inside:
            continue
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            found.append((node.lineno, f"{base}.{node.module}" if node.module else base))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "symcere_kit":
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "symcere_kit"]
    return sorted(found)


def test_the_counter_sees_relative_absolute_and_nested_imports():
    source = ("import os\nfrom ..errors import X\n\ndef f():\n    from ..errors import SymcereError\n"
              "    import symcere_kit.paths\n    def g():\n        from .store import RunStore\n"
              "        from .. import models\n        import json\n")
    got = [m for _, m in function_level_imports(source, "symcere_kit.runs")]
    assert got == ["symcere_kit.errors", "symcere_kit.paths", "symcere_kit.runs.store", "symcere_kit"]


def test_own_modules_are_imported_at_the_top_outside_the_command_line():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in EXEMPT:
            continue
        package = ".".join(path.relative_to(PACKAGE.parent).parts[:-1])
        for line, module in function_level_imports(path.read_text(encoding="utf-8"), package):
            if module not in DOCUMENTED.get(rel, {}):
                found.setdefault(rel, []).append(f"line {line}: {module}")
    assert not found, (f"function-level imports of the package's own modules beyond the documented list "
                       f"(tests/test_imports.py DOCUMENTED): {found}; move them to the top of the module, "
                       f"or document why one must stay")
