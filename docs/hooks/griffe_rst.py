"""A griffe extension: the reStructuredText the docstrings use, as the Markdown mkdocstrings renders.

The package's docstrings are reST-ish: ``double backticks`` (already Markdown code), Sphinx roles
(:class:`~a.B`, :func:`f`, :mod:`.space`, :math:`x^2`), ``::`` literal blocks and ``.. math::`` blocks.
Roles become mkdocstrings cross-references resolved in the docstring's scope, so a reference to a name
that does not exist, or to an object no API page shows, fails ``mkdocs build --strict``.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(class|func|meth|mod|attr|data|obj|exc):`(~?)([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_LIST_ITEM = re.compile(r"^\s*(?:[*-]|\d+\.)\s")


def _target(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` means in ``obj``'s scope, or None."""
    if name.startswith("."):  # relative to the package of the module the docstring is in
        module = obj if obj.is_module else obj.module
        base = module if module.is_package or module.is_init_module else module.parent
        return f"{base.path}{name}"
    if name.startswith("symcere_kit."):
        return name
    scope: griffe.Object | None = obj
    head, _, rest = name.partition(".")
    while scope is not None:
        members = scope.all_members if scope.is_class else scope.members  # a class: inherited members too
        if head in members:
            member = members[head]
            try:
                path = member.target_path if member.is_alias else member.path
            except griffe.AliasResolutionError:
                path = member.path
            return f"{path}.{rest}" if rest else path
        scope = scope.parent
    return None


def _role(obj: griffe.Object, match: re.Match) -> str:
    _, short, name = match.groups()
    target = _target(obj, name) or name  # unresolved: left as written, so autorefs reports it
    shown = name.rsplit(".", 1)[-1] if short else name.lstrip(".")
    return f"[`{shown}`][{target}]"


def _blocks(text: str) -> str:
    """``::`` literal blocks as fenced code, ``.. math::`` as ``$$`` blocks, a blank line before a list."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        math = line.strip() == ".. math::"
        literal = not math and line.rstrip().endswith("::")
        if math or literal:
            indent = len(line) - len(line.lstrip())
            j, body = i + 1, []
            while j < len(lines) and (not lines[j].strip() or len(lines[j]) - len(lines[j].lstrip()) > indent):
                body.append(lines[j])
                j += 1
            while body and not body[-1].strip():
                body.pop()
            body = [b for b in body if b.strip()] if math else body
            if body and any(b.strip() for b in body):
                strip = min(len(b) - len(b.lstrip()) for b in body if b.strip())
                pad = " " * indent
                if literal:
                    head = line.rstrip()[:-2].rstrip()
                    out.append(f"{head}:" if head else "")
                out += ["", pad + ("$$" if math else "```text"), *(pad + b[strip:] for b in body),
                        pad + ("$$" if math else "```"), ""]
                i = j
                continue
        if _LIST_ITEM.match(line) and out and out[-1].strip() and not _LIST_ITEM.match(out[-1]) \
                and not out[-1].startswith(" "):
            out.append("")
        out.append(line)
        i += 1
    return "\n".join(out)


def rst_to_markdown(obj: griffe.Object, text: str) -> str:
    text = _blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    return _ROLE.sub(lambda m: _role(obj, m), text)


class RstDocstrings(griffe.Extension):
    """Rewrites every docstring of the package once it is loaded (so names resolve across modules)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        seen: set[int] = set()

        def walk(obj: griffe.Object) -> None:
            if id(obj) in seen:
                return
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = rst_to_markdown(obj, obj.docstring.value)
            for member in obj.members.values():
                if not member.is_alias:
                    walk(member)

        walk(pkg)
