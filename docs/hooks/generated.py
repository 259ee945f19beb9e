"""Pages made from the code's own registries at build time, so nothing added to the package can be missing
from the site (``site.py`` calls these; nothing here imports the package but its command-line parser).

* API pages: a ``<!-- api: PATTERN ... -->`` marker in ``docs/api/*.md`` becomes one ``::: module`` block per
  module of the package that the patterns name (``pkg`` a module or package, ``pkg.*`` everything below it),
  found from the files of ``symcere_kit/``; a module no page names fails the build (:func:`check_coverage`).
* The command list: ``<!-- commands -->`` becomes a table of ``symcere``'s commands and their summaries.
* The layout: ``<!-- layout -->`` becomes the package tree with the first paragraph of each module's docstring,
  and ``<!-- layers -->`` the layer contract of ``pyproject.toml``, top to bottom.
* The formats table: ``<!-- formats -->`` becomes one row per format of the readers' registry
  (``data.readers.SCHEMAS``), plus ``generic_csv``.
"""
from __future__ import annotations

import ast
import fnmatch
import re
from pathlib import Path

API_MARKER = re.compile(r"<!-- api: ([^>]*?) -->")
COMMANDS_MARKER = "<!-- commands -->"
LAYOUT_MARKER = "<!-- layout -->"
LAYERS_MARKER = "<!-- layers -->"
FORMATS_MARKER = "<!-- formats -->"


def package_modules(root: Path, package: str = "symcere_kit") -> list[str]:
    """Every public module and package under ``root/package`` by dotted name, a package before its modules;
    ``__main__`` and names starting with ``_`` are left out."""
    out = []
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts[1:]):
            continue
        out.append(".".join(parts))
    return sorted(out, key=lambda m: m.split("."))


def matches(pattern: str, module: str) -> bool:
    """``pkg.*``: ``pkg`` itself and every module below it; anything else: that module exactly."""
    if pattern.endswith(".*"):
        base = pattern[:-2]
        return module == base or module.startswith(base + ".")
    return fnmatch.fnmatchcase(module, pattern)


def expand_api(markdown: str, modules: list[str]) -> str:
    """Each API marker as ``::: module`` blocks, in the marker's pattern order, each module once."""
    def blocks(match: re.Match) -> str:
        chosen: list[str] = []
        for pattern in match.group(1).split():
            chosen += [m for m in modules if matches(pattern, m) and m not in chosen]
        return "\n\n".join(f"::: {m}" for m in chosen)

    return API_MARKER.sub(blocks, markdown)


def check_coverage(pages: dict[str, str], modules: list[str]) -> list[str]:
    """Problems with the API pages' markers: a module no page names, a module two pages name (its anchors
    would clash), a pattern that names nothing. Empty when the reference covers the package exactly once."""
    owners: dict[str, list[str]] = {m: [] for m in modules}
    problems = []
    for page, markdown in sorted(pages.items()):
        for marker in API_MARKER.finditer(markdown):
            for pattern in marker.group(1).split():
                hits = [m for m in modules if matches(pattern, m)]
                if not hits:
                    problems.append(f"{page}: the pattern {pattern!r} names no module of the package")
                for m in hits:
                    if page not in owners[m]:
                        owners[m].append(page)
    problems += [f"{m} is on no API page: add it (or a pattern that covers it) to a <!-- api: ... --> marker in "
                 f"docs/api/" for m, where in owners.items() if not where]
    problems += [f"{m} is on {len(where)} API pages ({', '.join(where)}); name it on one"
                 for m, where in owners.items() if len(where) > 1]
    return problems


def first_sentence(path: Path, limit: int = 200) -> str:
    """The first paragraph of a module's docstring (read with ast: nothing is imported), cut at a word
    boundary past ``limit`` characters."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    text = " ".join(doc.strip().split("\n\n")[0].split())
    text = re.sub(r"\[`([^`]+)`\]\[[^\]]*\]", r"`\1`", text).replace("``", "`")
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def layout(root: Path, package: str = "symcere_kit") -> str:
    """The package tree as a Markdown table: module or package, and what its docstring says it holds."""
    rows = ["| module | what it holds |", "|---|---|"]
    for module in package_modules(root, package):
        parts = module.split(".")
        path = root.joinpath(*parts)
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        suffix = "/" if path.name == "__init__.py" else ".py"
        shown = "/".join(parts[1:]) + suffix if len(parts) > 1 else f"{package}/"
        what = first_sentence(path).replace("|", "\\|")
        rows.append(f"| `{shown}` | {what} |")
    return "\n".join(rows)


def commands_table(parser) -> str:
    """``symcere``'s commands with their one-line summaries and reference pages, from the parser."""
    import argparse

    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    rows = ["| command | what it does |", "|---|---|"]
    for action in sub._choices_actions:
        rows.append(f"| [`symcere {action.dest}`](reference/{action.dest}.md) | {(action.help or '').rstrip('.')} |")
    return "\n".join(rows)


def layers(root: Path) -> str:
    """The layers of ``pyproject.toml``'s import-linter contract, top to bottom, as a numbered list."""
    import tomllib

    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers")
    items = []
    for i, layer in enumerate(contract["layers"], 1):
        names = [f"`{m.strip().removeprefix('symcere_kit.')}`" for m in re.split(r"[|:]", layer)]
        items.append(f"{i}. " + ", ".join(names))
    return "\n".join(items)


def formats_table() -> str:
    """The review formats the readers know, one row each, from their registry (``data.readers.SCHEMAS``)."""
    from symcere_kit.data.formats import FORMATS
    from symcere_kit.data.readers import GENERIC_RECOGNISED_BY, SCHEMAS

    def code(name):
        return f"`{name}`" if name else "none"

    rows = ["| `--format` | user | item | text | time | rating | title | recognised by |", "|---" * 8 + "|"]
    for fmt in FORMATS:
        if fmt not in SCHEMAS:
            rows.append(f"| `{fmt}` | `--columns` | | | | | | {GENERIC_RECOGNISED_BY} |")
            continue
        s = SCHEMAS[fmt]
        how = s.recognised_by or "a header with " + ", ".join(f"`{c}`" for c in sorted(s.header))
        if not s.quoted:
            how += "; tab-separated, read with no quote processing"
        rows.append(f"| `{fmt}` | {code(s.user)} | {code(s.item)} | {code(s.text)} | `{s.timestamp}` ({s.time_unit}) "
                    f"| {code(s.rating)} | {code(s.title)} | {how} |")
    return "\n".join(rows)
