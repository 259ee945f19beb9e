"""Dataset names -> publisher files, URLs and the paper's Table 1 counts; where to find the files.

Look-up order: ``$SYMCERE_DATA_DIR``, ``data/raw/``, the mirror ``../shared/data/``,
then a download into ``data/raw/`` when online (not when ``SYMCERE_OFFLINE=1``; ``download.py``: the
Hugging Face copy checked against its published sha256, then the publisher's URL). In each directory a
file may sit at the top or in a sub-folder named after the dataset. Any existing path works in place
of a name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import DatasetNotFoundError
from ..paths import project_root, raw_data_dir
from .download import DownloadError, download

# The publisher's links, as the dataset's README gives them (amazon-reviews-2023.github.io)
AMAZON_2023_URL = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_2023/raw/review_categories/{}.jsonl.gz"
AMAZON_2018_URL = "https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/categoryFilesSmall/{}"
AMAZON_2014_URL = "https://snap.stanford.edu/data/amazon/productGraph/categoryFiles/{}"


@dataclass(frozen=True)
class DatasetEntry:
    """One named dataset of the registry: its publisher, the file names it is accepted under, where to get it
    and the paper's Table 1 counts (users, items, reviews) when the paper used it."""

    name: str
    title: str
    publisher: str
    files: tuple[str, ...]  # accepted file names, preferred (downloadable) first
    url: str | None  # direct download of files[0]; None when the publisher needs a form or an application
    page: str  # where a person gets the data and its terms
    paper_counts: tuple[int, int, int] | None = None  # Table 1: users, items, reviews
    note: str = ""
    aliases: tuple[str, ...] = ()
    hub_file: str | None = None  # the same data in download.HUB_REPO on the Hugging Face hub, tried first
    sha256: str | None = None  # of hub_file, from the hub's Git LFS pointer
    size: int | None = None  # of hub_file, bytes


_SHARED_NOTE = "Mirror in ../shared/data; see PROVENANCE.md there."
_PAPER_NOTE = (
    "The paper's counts come from a subsample of the Amazon Reviews 2023 category whose procedure "
    "it does not state; the full 5-core file is much larger, so our counts differ."
)

# Amazon Reviews 2023 category -> the paper's Table 1: users, items, reviews
_PAPER_AMAZON_TABLE = """
Clothing_Shoes_and_Jewelry    1786  4291  13676
CDs_and_Vinyl                 2078  3888  24604
Tools_and_Home_Improvement    1290  4571  18456
Sports_and_Outdoors           1372  4190  18660
Beauty_and_Personal_Care      1405  5066  23870
Automotive                    1187  2833  12106
Toys_and_Games                1045  4152  17568
Pet_Supplies                  1114  4241  20722
Health_and_Household           820  3679  14442
Video_Games                    870  2812  17572
Cell_Phones_and_Accessories    401  1943   6872
Patio_Lawn_and_Garden          282  1373   3944
Office_Products                256  1287   3828
"""
_PAPER_AMAZON = {
    name: (int(u), int(i), int(r)) for name, u, i, r in map(str.split, _PAPER_AMAZON_TABLE.strip().splitlines())
}
# raw/review_categories/<Category>.jsonl in McAuley-Lab/Amazon-Reviews-2023 on the Hugging Face hub: sha256 and
# size in bytes, as the dataset repository's Git LFS pointers publish them (read from a public GitHub mirror of
# those pointers, aimiwamy03/Amazon-Reviews-2023 at bfb602ae; the uncompressed JSON lines, 2.7 to 27.8 GB).
_HUB_FILES_TABLE = """
Clothing_Shoes_and_Jewelry   150eb2a9e88f61cd5a89c5337cde437dc71308c47f22899a72d9e1dad60b7356  27810080533
CDs_and_Vinyl                4692a40ee4b9bcc5f7ee58edeffb211138e02641c3fdfd55f77843430cb34cbc   3287195043
Tools_and_Home_Improvement   7cfcd11fef2d6346d88eec96ca48e28225e4795b4e93e6a265114c22755a348b  12779111772
Sports_and_Outdoors          47eaab08457fd7d270613f193506c479492b696a808ae5639a949b27026a4559   9256856041
Beauty_and_Personal_Care     24f139d51014f50c052b69bdf5ca95e2e2656e80aabda2da3fdad29bb1931a53  11021458876
Automotive                   5ca28ebd15a7e26f8bb3289d65e26784b39c9661d1f5dc030ecc9fef0211eced   8727689027
Toys_and_Games               2e6157468ea97963098fe6b14749eda8d16a4443e718dcf6cbd0726c781fd938   7316094780
Pet_Supplies                 ad9e71383eb02674a7514181bb3eb57eec36695ea2cd28143b70df5d1da72ee3   8350775233
Health_and_Household         e8256271e6d566745656cd946e200a43ad08ff5e046daacfc54535bfd95be4b4  11395356745
Video_Games                  7bde9e0a039bdb321e993bfe78a6c7d438fb1504b1ad152c0cb6a33a8b7cb26a   2682948518
Cell_Phones_and_Accessories  bda42ca8d28a1e57db970c78703b7aaac9c9beb6595e1be00364a0a55a682cd5   9342568048
Patio_Lawn_and_Garden        2923136d4013b1f728081ab42a488b8328164deb9b6a8e2efae8cf48ff7fe345   7748207348
Office_Products              82cc49670098220a314d398ceff6434599b54c27af5fa00ab9c0b4af9d9d9011   5776792834
"""
_HUB_FILES = {name: (sha, int(size)) for name, sha, size in map(str.split, _HUB_FILES_TABLE.strip().splitlines())}


def _amazon2018(name: str, file: str, title: str) -> DatasetEntry:
    return DatasetEntry(
        name, title, "Ni, Li, McAuley (EMNLP 2019), Amazon Review Data 2018", (file,),
        AMAZON_2018_URL.format(file), "https://nijianmo.github.io/amazon/index.html", note=_SHARED_NOTE,
    )


REGISTRY: dict[str, DatasetEntry] = {
    e.name: e
    for e in [
        DatasetEntry(
            "amazon2014_musical_instruments", "Amazon 2014 Musical Instruments (5-core)",
            "He & McAuley (WWW 2016), Amazon product data 2014",
            ("Musical_instruments_reviews.csv.gz", "Musical_instruments_reviews.csv",
             "reviews_Musical_Instruments_5.json.gz"),
            AMAZON_2014_URL.format("reviews_Musical_Instruments_5.json.gz"),
            "https://jmcauley.ucsd.edu/data/amazon/", note=_SHARED_NOTE + " Default dataset.",
        ),
        _amazon2018("amazon2018_gift_cards_5", "Gift_Cards_5.json.gz", "Amazon 2018 Gift Cards (5-core)"),
        _amazon2018("amazon2018_all_beauty_5", "All_Beauty_5.json.gz", "Amazon 2018 All Beauty (5-core)"),
        _amazon2018("amazon2018_fashion_5", "AMAZON_FASHION_5.json.gz", "Amazon 2018 Fashion (5-core)"),
        *[
            DatasetEntry(
                f"amazon2023_{cat.lower()}", f"Amazon Reviews 2023 {cat.replace('_', ' ')}",
                "Hou et al. (2024), Amazon Reviews 2023", (f"{cat}.jsonl.gz", f"{cat}.jsonl"),
                AMAZON_2023_URL.format(cat), "https://amazon-reviews-2023.github.io/",
                paper_counts=counts, note=_PAPER_NOTE, aliases=(cat.lower(),),
                hub_file=f"raw/review_categories/{cat}.jsonl", sha256=_HUB_FILES[cat][0], size=_HUB_FILES[cat][1],
            )
            for cat, counts in _PAPER_AMAZON.items()
        ],
        DatasetEntry(
            "yelp", "Yelp Open Dataset (reviews)", "Yelp (2024), Yelp Open Dataset",
            ("yelp_academic_dataset_review.json", "yelp_academic_dataset_review.json.gz", "yelp_dataset.tar"), None,
            "https://www.yelp.com/dataset", paper_counts=(802, 1274, 11879),
            note="Download needs accepting Yelp's terms on its page; the paper's subsample is not described.",
        ),
        DatasetEntry(
            "rakuten_travel", "Rakuten Travel (Japanese)", "Rakuten Group (2020), via NII IDR", (), None,
            "https://doi.org/10.32130/idr.2.2", paper_counts=(1275, 9809, 20365),
            note="Semi-public: needs an application to Rakuten / NII IDR; no reader for it yet.",
        ),
    ]
}

DEFAULT_DATASET = "amazon2014_musical_instruments"


def lookup(name: str) -> DatasetEntry:
    """The registry entry named ``name`` or one of its aliases (case and surrounding spaces ignored).

    Raises:
        DatasetNotFoundError: an unknown name (listing the known ones).
    """
    key = name.strip().lower()
    for entry in REGISTRY.values():
        if key == entry.name or key in entry.aliases:
            return entry
    raise DatasetNotFoundError(
        f"Unknown dataset name {name!r}. Known names: {', '.join(REGISTRY)}. "
        f"Run `symcere datasets` to see which are available here, or pass the path of a review file instead."
    )


def search_dirs() -> list[Path]:
    """The folders searched for dataset files, in order: ``$SYMCERE_DATA_DIR`` (when set), ``data/raw/`` and
    the mirror ``../shared/data/``."""
    dirs = []
    if os.environ.get("SYMCERE_DATA_DIR"):
        dirs.append(Path(os.environ["SYMCERE_DATA_DIR"]).expanduser())
    dirs += [raw_data_dir(), project_root().parent / "shared" / "data"]
    return dirs


def find_local(entry: DatasetEntry) -> Path | None:
    """The first of ``entry``'s files found in [`search_dirs`][symcere_kit.data.registry.search_dirs] (at the top
    of a folder or in its sub-folder named after the dataset), or None."""
    for d in search_dirs():
        for f in entry.files:
            for candidate in (d / f, d / entry.name / f):
                if candidate.is_file():
                    return candidate
    return None


def offline() -> bool:
    """Whether downloads are off: ``$SYMCERE_OFFLINE`` is set to anything but empty or ``0``."""
    return os.environ.get("SYMCERE_OFFLINE", "") not in ("", "0")


def resolve(name_or_path: str | os.PathLike) -> tuple[str, Path, DatasetEntry | None]:
    """Return (display name, local file, registry entry or None) for a dataset name or a file path."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.name.split(".")[0], path, None
    if path.suffix or os.sep in str(name_or_path):
        raise DatasetNotFoundError(
            f"No such file: {path}. Check the path, or pass a dataset name (see `symcere datasets`)."
        )
    entry = lookup(str(name_or_path))
    found = find_local(entry)
    if found is not None:
        return entry.name, found, entry
    looked = ", ".join(str(d) for d in search_dirs())
    wanted = " or ".join(entry.files) or "(no public file)"
    downloadable = entry.url or entry.hub_file
    if downloadable and not offline():
        try:
            return entry.name, download(entry, raw_data_dir()), entry
        except DownloadError as exc:
            reason = str(exc).rstrip(".")
    else:
        reason = "offline (SYMCERE_OFFLINE is set)" if downloadable else f"it must be obtained from {entry.page}"
    raise DatasetNotFoundError(
        f"Dataset {entry.name!r} needs the file {wanted}, which is in none of: {looked}; {reason}. "
        f"Put the file in one of those folders (or set SYMCERE_DATA_DIR), or pass its path instead of the name."
    )


# Dataset groups a notebook's DATASETS may name (`make reproduce PARAMS="DATASETS=paper"`).
GROUPS = {"paper": "every registry dataset the paper used (its Table 1), each at its @paper reading"}


def expand_group(group: str) -> tuple[list[str], list[str]]:
    """The datasets of ``group`` (``GROUPS``) usable here and the ones left out.

    Returns:
        (names to run, e.g. ``amazon2023_pet_supplies@paper``: each one's file is here or downloadable now;
        one line per dataset left out, saying how to get it).

    Raises:
        DatasetNotFoundError: an unknown group.
    """
    if group not in GROUPS:
        raise DatasetNotFoundError(f"Unknown dataset group {group!r}; groups are {', '.join(GROUPS)}.")
    usable, missing = [], []
    for e in REGISTRY.values():
        if e.paper_counts is None:
            continue
        if find_local(e) is not None or ((e.url or e.hub_file) and not offline()):
            usable.append(f"{e.name}@paper")
        elif e.url or e.hub_file:
            missing.append(f"{e.name}: offline (SYMCERE_OFFLINE is set), and {' or '.join(e.files)} is in none of "
                           f"{', '.join(str(d) for d in search_dirs())}")
        else:
            missing.append(f"{e.name}: from {e.page} ({e.note.rstrip('.')}); put "
                           f"{' or '.join(e.files) or 'the file'} in {search_dirs()[0]}")
    return usable, missing


def availability() -> list[dict]:
    """One row per registry entry for `symcere datasets`: is the file here, else how to get it."""
    rows = []
    for e in REGISTRY.values():
        found = find_local(e)
        rows.append({
            "name": e.name,
            "title": e.title,
            "here": found is not None,
            "path": str(found) if found else None,
            "get": None if found else (f"{Path(e.hub_file).name if e.hub_file else e.files[0]}: downloads on first use"
                                       if e.url or e.hub_file
                                       else f"{e.page}: {e.note.split(';')[0].lower()}"),
            "source": e.url or e.page,
            "paper_users_items_reviews": e.paper_counts,
        })
    return rows
