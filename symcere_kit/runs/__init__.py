"""Runs: the experiment table (``variants``: one row per table column, the groups, the tuning order),
tuned-settings files (``tuned``), the run store (``store``: layout, atomic writes, finding and loading
runs), executors (``executors``) and grids over datasets x variants x seeds (``grid``).

Names are imported on first use (PEP 562), so ``runs.variants`` stays an instant import for the
command line while ``from symcere_kit.runs import study_grid`` works as usual."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "executors": ("make_executor",),
    "grid": ("Grid", "RunSpec", "execute", "study_grid"),
    "store": ("RunStore", "TrainedRun", "load_run", "read_record"),
    "tuned": ("Tuned", "load_tuned"),
    "variants": ("GROUPS", "VARIANTS", "Variant", "expand_variants", "variant_config"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
