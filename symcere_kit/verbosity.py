"""Other libraries' output while we load models: hidden unless the user asks for it.

transformers draws a "Loading weights" progress bar for every model it loads and logs load reports; huggingface_hub
draws download bars; peft logs. In a widget or an executed notebook that is noise above the controls, so
[`quiet_libraries`][symcere_kit.verbosity.quiet_libraries] hides them for the length of a ``with`` block through the
libraries' own switches (transformers' ``disable_progress_bar`` / ``set_verbosity_error``, huggingface_hub's verbosity,
the ``peft`` logger's level) and puts back exactly what was there before, so the user's other code sees the settings it
chose. Our own tqdm bars are not touched.

Whether to be verbose: an explicit ``verbose=`` wins; else an enclosing ``quiet_libraries(verbose=...)``
decides; else ``$SYMCERE_VERBOSE`` (the CLI's ``--verbose`` sets it, so it reaches process pools and
notebook kernels too); else quiet.
"""
from __future__ import annotations

import contextvars
import importlib
import logging
import os
import threading
from contextlib import contextmanager
from typing import Iterator

VERBOSE_ENV = "SYMCERE_VERBOSE"

_enclosing: contextvars.ContextVar[bool | None] = contextvars.ContextVar("symcere_verbose", default=None)
# Several threads may load at once: the first to enter saves the libraries' settings and the last to
# leave restores them, so no thread restores "on" while another is still loading.
_lock = threading.Lock()
_depth = 0
_saved: dict | None = None


def wants_verbose(verbose: bool | None = None) -> bool:
    """Whether other libraries may print: ``verbose`` when given, else the enclosing
    [`quiet_libraries`][symcere_kit.verbosity.quiet_libraries] block's choice, else ``$SYMCERE_VERBOSE``
    (1/true/yes/on), else False."""
    if verbose is not None:
        return bool(verbose)
    enclosing = _enclosing.get()
    if enclosing is not None:
        return enclosing
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_modules():
    """huggingface_hub's logging and tqdm modules (``import ... as`` would give the ``tqdm`` class that
    ``huggingface_hub.utils`` exports under the module's name)."""
    return (importlib.import_module("huggingface_hub.utils.logging"),
            importlib.import_module("huggingface_hub.utils.tqdm"))


def _silence() -> dict:
    """Hide the bars and log records below ERROR; return what to put back."""
    import huggingface_hub.constants
    import transformers.utils.logging as tf_logging

    hub_logging, hub_tqdm = _hub_modules()
    saved = {"tf_level": tf_logging.get_verbosity(), "hub_level": hub_logging.get_verbosity(),
             "peft_level": logging.getLogger("peft").level, "bars": None}
    # HF_HUB_DISABLE_PROGRESS_BARS=0 is a user asking for bars; the hub would refuse with a warning anyway
    if huggingface_hub.constants.HF_HUB_DISABLE_PROGRESS_BARS is not False:
        saved["bars"] = (tf_logging.is_progress_bar_enabled(), dict(hub_tqdm.progress_bar_states))
        tf_logging.disable_progress_bar()  # transformers' bars, and huggingface_hub's with them
    tf_logging.set_verbosity_error()
    hub_logging.set_verbosity_error()
    logging.getLogger("peft").setLevel(logging.ERROR)
    return saved


def _restore(saved: dict) -> None:
    import transformers.utils.logging as tf_logging

    hub_logging, hub_tqdm = _hub_modules()
    tf_logging.set_verbosity(saved["tf_level"])
    hub_logging.set_verbosity(saved["hub_level"])
    logging.getLogger("peft").setLevel(saved["peft_level"])
    if saved["bars"] is not None:
        tf_bars, hub_states = saved["bars"]
        if tf_bars:
            tf_logging.enable_progress_bar()  # also switches the hub's bars on: their own state follows
        hub_tqdm.progress_bar_states.clear()
        hub_tqdm.progress_bar_states.update(hub_states)


@contextmanager
def quiet_libraries(verbose: bool | None = None) -> Iterator[bool]:
    """Within the block, transformers', huggingface_hub's and peft's progress bars and log records below ERROR are
    hidden, unless [`wants_verbose`][symcere_kit.verbosity.wants_verbose] of ``verbose`` is True (then nothing changes).

    Yields that verbosity; blocks and calls inside that pass ``verbose=None`` inherit it. On leaving,
    even by an exception, every setting it changed is back to its value before the outermost block.
    The switches are process-wide, so a verbose block inside a quiet one (of this or another thread)
    stays quiet."""
    global _depth, _saved
    loud = wants_verbose(verbose)
    token = _enclosing.set(loud)
    try:
        if loud:
            yield True
            return
        with _lock:
            if _depth == 0:
                _saved = _silence()
            _depth += 1
        try:
            yield False
        finally:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    saved, _saved = _saved, None
                    _restore(saved)
    finally:
        _enclosing.reset(token)
