"""Opening a review file whatever its wrapping (gzip, a single-file zip, a tar by member), sampling its first
lines, counting lines read, and the advice for bad bytes and cut streams."""
from __future__ import annotations

import contextlib
import gzip
import io
import re
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from ...errors import DataFormatError
from ...progress import progress_bar
from .catalogue import ARCHIVE_MEMBERS
from .generic import _UNKNOWN_FIX
from .schema import _SKIP_HINT

_SAMPLE_LINES = 50  # lines (or array records) read to detect the format
_SAMPLE_LINE_BYTES = 1 << 20  # a one-line JSON array must not be read whole just to detect it
_PROGRESS_EVERY = 10_000  # lines between progress-bar updates: updating per line would cost more than parsing
_STREAM_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, zipfile.BadZipFile, tarfile.ReadError)
_REENCODE_FIX = ("Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT` "
                 "(for a .gz: `zcat IN.gz | iconv -f latin1 -t utf-8 | gzip > OUT.gz`).")
_ENCODING_SAMPLE_BYTES = 8 << 20  # judged on the first 8 MiB: enough characters to tell UTF-8 from Latin-1
# A valid UTF-8 multi-byte character (RFC 3629: no overlong forms, no surrogates).
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                             rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
                             rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_TRUNCATED_FIX = ("Download it again and compare its size with the source's, "
                  "or pass --skip-bad-records (skip_bad_records=True) to keep the lines before the cut.")


@contextlib.contextmanager
def _open_binary(path: Path) -> Iterator[BinaryIO]:
    """The file's bytes, decompressed when it is gzip (by magic bytes) or a zip holding one file."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise DataFormatError(path, "no such file.", "Check the path, or download the file first.") from None
    except OSError as exc:
        raise DataFormatError(path, f"it cannot be opened ({exc.strerror}).",
                              "Check that the path names a readable file.") from None
    with raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw) as stream, _untar(path, stream) as inner:
                yield inner
        elif magic == b"PK\x03\x04":
            with _zip_member(path, raw) as stream:
                yield stream
        else:
            with _untar(path, raw) as inner:
                yield inner


@contextlib.contextmanager
def _untar(path: Path, stream: BinaryIO) -> Iterator[BinaryIO]:
    """``stream`` itself, or, when it is a tar archive (``ustar`` at byte 257), the review member of it,
    read in place: never extracted to disk. A plain tar on disk is indexed by seeking past the other
    members; a gzip'ed one is read in tarfile's streaming mode up to the member."""
    try:
        head = stream.read(512)
    except _STREAM_ERRORS:
        head = b""  # reported by the read that follows, with its line
    stream.seek(0)
    if head[257:262] != b"ustar":
        yield stream
        return
    seekable = isinstance(stream, io.BufferedReader)
    key = (str(path), path.stat().st_size, path.stat().st_mtime_ns)
    if key not in _TAR_MEMBERS:  # a read opens the file several times: list a tar.gz's members once
        _TAR_MEMBERS.clear()
        _TAR_MEMBERS[key] = _tar_member_name(path, stream, seekable)
        stream.seek(0)
    name = _TAR_MEMBERS[key]
    with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|") as archive:
        member = next(m for m in archive if m.name == name)  # lazily: no need to index the members after it
        with archive.extractfile(member) as inner:
            if inner.peek(2)[:2] == b"\x1f\x8b":  # a compressed member, e.g. a tar of the .jsonl.gz downloads
                with gzip.GzipFile(fileobj=inner) as unzipped:
                    yield unzipped
            else:
                yield inner


_TAR_MEMBERS: dict[tuple, str] = {}  # (path, size, mtime) -> the member chosen


def _tar_member_name(path: Path, stream: BinaryIO, seekable: bool) -> str:
    """The member to read: the only file, else a publisher's review file by name (``ARCHIVE_MEMBERS``: Yelp's);
    otherwise refuse, listing them."""
    names: list[str] = []
    try:
        with tarfile.open(fileobj=stream, mode="r:" if seekable else "r|") as archive:
            for m in archive:
                if m.isfile() and not Path(m.name).name.startswith("._") and not m.name.startswith("__MACOSX/"):
                    names.append(m.name)
    except _STREAM_ERRORS as exc:  # a cut archive: choose among the members before the cut; the read says where
        if not names:
            raise DataFormatError(path, f"it starts like a tar archive but cannot be read ({exc}).",
                                  _TRUNCATED_FIX) from None
    if len(names) == 1:
        return names[0]
    reviews = [name for name in names if Path(name).name in ARCHIVE_MEMBERS]
    if len(reviews) == 1:
        return reviews[0]
    raise DataFormatError(path, f"the tar archive holds {len(names)} files ({', '.join(names[:10])}"
                          f"{', ...' if len(names) > 10 else ''}), and none is a review file known by name.",
                          f"Extract the review file and pass that: `tar -xf {path} MEMBER`.")


@contextlib.contextmanager
def _zip_member(path: Path, raw: BinaryIO) -> Iterator[BinaryIO]:
    try:
        archive = zipfile.ZipFile(raw)
    except zipfile.BadZipFile as exc:
        raise DataFormatError(path, f"it starts like a zip archive but cannot be opened ({exc}).",
                              "Download it again, or unzip it and pass the file inside.") from None
    with archive:
        names = [n for n in archive.namelist() if not n.endswith("/") and not n.startswith("__MACOSX/")]
        if len(names) != 1:
            raise DataFormatError(path, f"the zip archive holds {len(names)} files ({', '.join(names[:5])}), "
                                  "not one.", "Unzip it and pass the review file inside.")
        with archive.open(names[0]) as stream:
            yield stream


def _stream_problem(exc: Exception, stream: BinaryIO, line: int) -> str:
    kind = ("gzip" if isinstance(stream, gzip.GzipFile) else "tar" if isinstance(exc, tarfile.ReadError)
            or isinstance(stream, tarfile.ExFileObject) else "zip")
    if isinstance(exc, EOFError) or "unexpected end of data" in str(exc):  # tarfile's words for a cut archive
        return f"the {kind} stream ends early after line {line}: the file is truncated."
    return f"the {kind} data is corrupt after line {line} ({exc}): the file is damaged."


def _sample(path: Path) -> list[str]:
    """The first non-blank lines, decoded leniently: one bad byte is reported by the full read, not here."""
    lines: list[str] = []
    with _open_binary(path) as stream:
        try:
            for raw in iter(lambda: stream.readline(_SAMPLE_LINE_BYTES), b""):
                if not lines and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16's byte-order mark
                    raise DataFormatError(path, "it is encoded as UTF-16, and the readers read UTF-8.",
                                          "Re-encode it as UTF-8, e.g. `iconv -f utf-16 -t utf-8 IN > OUT` (or save "
                                          "it again choosing UTF-8).", line=1)
                text = raw.decode("utf-8", "replace").lstrip("\ufeff").strip()
                if text:
                    lines.append(text)
                if len(lines) == _SAMPLE_LINES:
                    break
        except _STREAM_ERRORS as exc:
            if not lines:
                raise DataFormatError(path, _stream_problem(exc, stream, 0), _TRUNCATED_FIX) from None
    if not lines:
        raise DataFormatError(path, "the file is empty.", _UNKNOWN_FIX)
    return lines


def _progress(lines: Iterable, path: Path, enabled: bool) -> Iterator:
    """Pass ``lines`` through while a progress bar counts them (total unknown: files may be compressed)."""
    with progress_bar(desc=f"reading {path.name}", unit=" lines", unit_scale=True, enabled=enabled) as bar:
        count = 0
        for count, line in enumerate(lines, 1):
            if count % _PROGRESS_EVERY == 0:
                bar.update(_PROGRESS_EVERY)
            yield line
        bar.update(count % _PROGRESS_EVERY)


def _encoding_fix(path: Path, skippable: bool) -> str:
    """Advice for a byte that is not UTF-8, fitted to the file: a UTF-8 file with a few bad bytes must
    not be re-encoded whole (iconv -f latin1 would garble every valid accent in it); a file that looks
    single-byte throughout (Latin-1, cp1252) should be."""
    with _open_binary(path) as stream:
        try:
            data = stream.read(_ENCODING_SAMPLE_BYTES)
        except _STREAM_ERRORS:
            data = b""
    valid = _UTF8_MULTIBYTE.findall(data)
    stray = sum(byte >= 0x80 for byte in data) - sum(len(char) for char in valid)
    if valid and len(valid) >= stray:
        return (f"The file is UTF-8 with a few bad bytes ({len(valid):,} valid multi-byte characters and {stray:,} "
                f"stray bytes in its first {len(data) >> 20 or 1} MiB), so do not re-encode it whole (that would "
                "garble its valid accents): fix or delete that line"
                + (", " + _SKIP_HINT if skippable else "."))
    return _REENCODE_FIX


def _utf8_problem(raw: bytes, exc: UnicodeDecodeError) -> str:
    return f"byte 0x{raw[exc.start]:02x} at byte {exc.start + 1} of the line is not valid UTF-8."


def _utf8_error(path: Path) -> DataFormatError:
    """Text decoding works in blocks, so rescan line by line to name the line of the first bad byte."""
    with _open_binary(path) as stream:
        for line, raw in enumerate(stream, 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return DataFormatError(path, _utf8_problem(raw, exc), _encoding_fix(path, False), line=line)
    return DataFormatError(path, "it is not valid UTF-8.", _encoding_fix(path, False))
