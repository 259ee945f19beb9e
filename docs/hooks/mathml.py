"""The docstrings' equations as MathML, made when the site is built: no script and no network when a page is read.

pymdownx.arithmatex (generic mode) marks ``$...$`` as ``<span class="arithmatex">\\(...\\)</span>`` and ``$$...$$``
as ``<div class="arithmatex">\\[...\\]</div>``; each becomes a ``<math>`` element (latex2mathml), which browsers
draw natively (MathML Core: Chromium 109+, Firefox, Safari). A formula latex2mathml cannot read fails the build,
naming it.
"""
from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

_INLINE = re.compile(r'<span class="arithmatex">\\\((.*?)\\\)</span>', re.S)
_BLOCK = re.compile(r'<div class="arithmatex">\\\[(.*?)\\\]</div>', re.S)


class MathError(ValueError):
    """A formula that latex2mathml cannot convert."""


def to_mathml(tex: str, display: str) -> str:
    """One formula (HTML-escaped TeX, as arithmatex writes it) as a MathML element (``display``: inline or block)."""
    source = html.unescape(tex).strip()
    try:
        out = convert(source, display=display)
    except Exception as exc:  # latex2mathml raises assorted errors
        raise MathError(f"cannot turn {source!r} into MathML: {type(exc).__name__}: {exc}") from exc
    return out.replace("<math ", '<math class="symcere-math" ', 1)


def render(page_html: str) -> str:
    """Every arithmatex span and block of ``page_html`` as MathML."""
    page_html = _BLOCK.sub(lambda m: f'<div class="arithmatex">{to_mathml(m.group(1), "block")}</div>', page_html)
    return _INLINE.sub(lambda m: to_mathml(m.group(1), "inline"), page_html)
