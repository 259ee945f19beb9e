"""MkDocs hook: the pages built from the code, so they never drift from it.

* ``cli/reference/*.md``: ``symcere --help`` and each subcommand's help, from the argparse parser.
* ``data/errors.md``: the ``<!-- error catalogue -->`` marker becomes the real messages, made by
  running the readers on small bad files (``errors_catalogue.py``).
* ``notebooks/NN_*.ipynb``: the executed QUICK copies from ``build/notebooks/quick/`` (written by
  ``make reproduce QUICK=1``), rendered by mkdocs-jupyter. ``SYMCERE_DOCS_NOTEBOOKS=skip`` renders the
  committed, unexecuted notebooks instead (the docs test does that when no QUICK copies exist).
* ``figures/*.png``: the committed gallery figures, so pages link them as ``../figures/NAME.png``
  (a path that works on GitHub too).
* the API pages' module lists, the command list and the package layout: from the package's files and the
  parser (``generated.py``); a module no API page names fails the build.
* the equations: MathML made at build time (``mathml.py``), so pages draw them with no script or network.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
HOOKS = Path(__file__).resolve().parent
NOTEBOOKS_ENV = "SYMCERE_DOCS_NOTEBOOKS"  # "skip": render the committed notebooks without outputs
HELP_WIDTH = "100"  # argparse wraps help to $COLUMNS: fixed, so the pages do not depend on the terminal


def _import_path() -> None:
    """This checkout's package and the hooks' helpers first (a worktree may share another's venv)."""
    for path in (str(ROOT), str(HOOKS)):
        if path not in sys.path:
            sys.path.insert(0, path)


def on_config(config):
    _import_path()
    return config


# --------------------------------------------------------------------------------------------- the CLI


def _help_pages() -> dict[str, str]:
    """``{command: markdown}`` for ``symcere`` and each of its subcommands."""
    import argparse

    from symcere_kit.cli import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_WIDTH
    try:
        parser = build_parser()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        summaries = {choice.dest: choice.help for choice in sub._choices_actions}
        pages = {"symcere": _page("symcere", "The `symcere` command: global options and the list of commands.",
                                  "symcere --help", parser.format_help())}
        for name, subparser in sub.choices.items():
            pages[name] = _page(f"symcere {name}", (summaries.get(name) or "").rstrip(".") + ".",
                                f"symcere {name} --help", subparser.format_help())
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    return pages


def _page(title: str, summary: str, command: str, text: str) -> str:
    return (f"# `{title}`\n\n{summary[0].upper() + summary[1:]}\n\n"
            "This page is generated from the command's argument parser when the site is built.\n\n"
            f"```console\n$ {command}\n{text.rstrip()}\n```\n")


# --------------------------------------------------------------------------------------------- files


def _notebook_dir() -> Path:
    """A folder holding ``notebooks/NN_*.ipynb`` to render: the committed sources in skip mode, else a
    copy of the executed QUICK ones (mkdocs-jupyter reads a page from its source folder + its path)."""
    sources = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if os.environ.get(NOTEBOOKS_ENV) == "skip":
        return ROOT
    executed = ROOT / "build" / "notebooks" / "quick"
    missing = [nb.name for nb in sources if not (executed / nb.name).is_file()]
    if missing:
        raise PluginError(f"No executed QUICK copy of {', '.join(missing)} in {executed}. Run `make docs` (it "
                          f"runs `symcere reproduce --quick` first, ~3 min) or `make reproduce QUICK=1`; or set "
                          f"{NOTEBOOKS_ENV}=skip to render the notebooks without their outputs.")
    staging = ROOT / "build" / "docs-notebooks"
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "notebooks").mkdir(parents=True)
    for nb in sources:
        shutil.copy2(executed / nb.name, staging / "notebooks" / nb.name)
    return staging


def _file(src_uri: str, src_dir: Path, config) -> File:
    return File(src_uri, str(src_dir), config["site_dir"], config["use_directory_urls"])


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files: Files, config) -> Files:
    from generated import check_coverage, package_modules

    api = {f.src_uri: Path(f.abs_src_path).read_text(encoding="utf-8") for f in files
           if f.src_uri.startswith("api/") and f.src_uri.endswith(".md")}
    problems = check_coverage(api, package_modules(ROOT))
    if problems:
        raise PluginError("The API reference does not cover the package exactly once:\n  " + "\n  ".join(problems))
    for name, markdown in _help_pages().items():
        files.append(File.generated(config, f"cli/reference/{name}.md", content=markdown))
    notebooks = _notebook_dir()
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        files.append(_file(f"notebooks/{nb.name}", notebooks, config))
    for png in sorted((ROOT / "figures").glob("*.png")):
        files.append(_file(f"figures/{png.name}", ROOT, config))
    return files


# --------------------------------------------------------------------------------------------- pages

ERRORS_MARKER = "<!-- error catalogue -->"


def on_page_markdown(markdown: str, page, config, files) -> str:
    # ../figures/ and ../notebooks/ in a page of docs/ are the checkout's folders (so the link works on
    # GitHub); in the site they are the files on_files added under figures/ and notebooks/
    depth = page.file.src_uri.count("/")
    for folder in ("figures/", "notebooks/"):
        markdown = markdown.replace("../" * (depth + 1) + folder, "../" * depth + folder)
    if ERRORS_MARKER in markdown:
        from errors_catalogue import catalogue

        markdown = markdown.replace(ERRORS_MARKER, catalogue(ROOT))
    return _generated(markdown)


def _generated(markdown: str) -> str:
    """The markers of ``generated.py`` replaced by what the code says now."""
    import generated

    if generated.API_MARKER.search(markdown):
        markdown = generated.expand_api(markdown, generated.package_modules(ROOT))
    if generated.COMMANDS_MARKER in markdown:
        from symcere_kit.cli import build_parser

        markdown = markdown.replace(generated.COMMANDS_MARKER, generated.commands_table(build_parser()))
    if generated.LAYOUT_MARKER in markdown:
        markdown = markdown.replace(generated.LAYOUT_MARKER, generated.layout(ROOT))
    if generated.LAYERS_MARKER in markdown:
        markdown = markdown.replace(generated.LAYERS_MARKER, generated.layers(ROOT))
    if generated.FORMATS_MARKER in markdown:
        markdown = markdown.replace(generated.FORMATS_MARKER, generated.formats_table())
    return markdown


def on_page_content(html: str, page, config, files) -> str:
    import mathml

    try:
        return mathml.render(html)
    except mathml.MathError as exc:
        raise PluginError(f"{page.file.src_uri}: {exc}") from None
