"""Registered datasets: where they come from, their checksums, and fetching them.

The registry (``datasets.json``) ships inside the package.  :func:`fetch` looks for
each file under the data root first and uses it, without any network, when its
sha1 matches; otherwise it downloads it to a temporary file beside the target,
checks the sha1 and only then renames it into place, so an interrupted or
corrupted download never leaves a file that looks complete.  Archives are
unpacked member by member, refusing members that would land outside the target
folder and links.

The data root is chosen by the caller (the CLI uses ``$SEQTOOL_DATA`` or
``~/.cache/seqtool``); this module reads no environment variables.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from seqtool.errors import InputError, ResourceError, UsageError

REGISTRY_FORMAT = "seqtool-datasets"
Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


def package_data_dir() -> Path:
    """The folder holding the registry and the bundled samples.

    Installed from a wheel it is ``seqtool/_data``; in a source checkout (or an
    editable install) it is the repository's top-level ``data/``.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "data"):
        if (candidate / "datasets.json").is_file():
            return candidate
    raise ResourceError(
        "seqtool's data folder is missing from this installation; reinstall seqtool"
    )


def sample_path(name: str) -> Path:
    """A bundled sample: ``english.txt`` (prose), ``en-fr.tsv`` (parallel pairs) or
    ``sentiment.tsv`` (sentences labelled pos/neg)."""
    path = package_data_dir() / "sample" / name
    if not path.is_file():
        raise ResourceError(f"bundled sample {name!r} is missing from this installation")
    return path


@dataclass(frozen=True)
class RemoteFile:
    path: str  # relative to the data root, '/'-separated
    url: str
    sha1: str
    size: int | None = None
    extract: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    files: tuple[RemoteFile, ...]


def load_registry(path: str | os.PathLike[str] | None = None) -> dict[str, Dataset]:
    source = Path(path) if path is not None else package_data_dir() / "datasets.json"
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source}: no such registry file") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(f"{source}: not a JSON registry file") from None
    if not isinstance(raw, dict) or raw.get("format") != REGISTRY_FORMAT:
        raise InputError(
            f"{source}: not a seqtool dataset registry (format {raw.get('format') if isinstance(raw, dict) else None!r})"
        )
    out: dict[str, Dataset] = {}
    try:
        for name, entry in raw["datasets"].items():
            files = tuple(
                RemoteFile(
                    f["path"],
                    f["url"],
                    f["sha1"].lower(),
                    f.get("size"),
                    tuple(f.get("extract", ())),
                )
                for f in entry["files"]
            )
            for f in files:
                _check_relative(f.path, source)
                for m in f.extract:
                    _check_relative(m, source)
            out[name] = Dataset(name, entry.get("description", ""), files)
    except (KeyError, TypeError, AttributeError) as e:
        raise InputError(f"{source}: malformed registry ({type(e).__name__}: {e})") from None
    return out


def _check_relative(rel: str, source: Any) -> None:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise InputError(f"{source}: path {rel!r} must stay inside the data folder")


def get_dataset(name: str, registry: dict[str, Dataset]) -> Dataset:
    if name not in registry:
        raise UsageError(f"unknown dataset {name!r}; registered: {', '.join(sorted(registry))}")
    return registry[name]


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _writable(folder: Path) -> bool:
    """Whether seqtool may write under ``folder``.

    A folder without write permission bits counts as read-only even for root, so
    a shared read-only mirror is never written into: unpacked files go to the cache.
    """
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return os.access(probe, os.W_OK) and bool(probe.stat().st_mode & 0o222)


def locate(name: str, roots: list[Path], registry: dict[str, Dataset]) -> list[Path] | None:
    """The usable files of a dataset already on disk under one of ``roots``, or None.

    Never touches the network and never writes: archives count as present only if
    their members have been unpacked.
    """
    ds = get_dataset(name, registry)
    found: list[Path] = []
    for rf in ds.files:
        hit: list[Path] | None
        if rf.extract:  # unpacked members are written atomically by us, so presence suffices
            hit = next(
                (
                    [r / m for m in rf.extract]
                    for r in roots
                    if all((r / m).is_file() for m in rf.extract)
                ),
                None,
            )
        else:
            hit = next(
                (
                    [r / rf.path]
                    for r in roots
                    if (r / rf.path).is_file() and sha1_of(r / rf.path) == rf.sha1
                ),
                None,
            )
        if hit is None:
            return None
        found.extend(hit)
    return found


def fetch(
    name: str,
    root: Path,
    registry: dict[str, Dataset],
    mirror: str | None = None,
    fallback: Path | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    timeout: float = 60.0,
    sources: list[Path] | None = None,
) -> list[Path]:
    """Make a dataset available under ``root`` and return its usable files.

    A file already under ``root`` with the right sha1 is used as it is.  When
    ``root`` is read-only (a shared mirror), downloads and unpacked members go to
    ``fallback``.  A missing file found with the right sha1 under one of
    ``sources`` (other data folders on this machine) is copied instead of
    downloaded.  ``mirror`` replaces the registered URLs by ``mirror/<path>``.
    """
    ds = get_dataset(name, registry)
    out: list[Path] = []
    for rf in ds.files:
        archive = root / rf.path
        if not (archive.is_file() and sha1_of(archive) == rf.sha1):
            if archive.exists() and not archive.is_file():
                raise InputError(f"{archive}: exists and is not a file")
            write_root = root if _writable(root) else fallback
            if write_root is None:
                raise ResourceError(f"{root}: not writable, and {rf.path} is missing there")
            archive = write_root / rf.path
            if not (archive.is_file() and sha1_of(archive) == rf.sha1):
                local = next(
                    (
                        src / rf.path
                        for src in sources or []
                        if (src / rf.path).is_file() and sha1_of(src / rf.path) == rf.sha1
                    ),
                    None,
                )
                url = f"{mirror.rstrip('/')}/{rf.path}" if mirror else rf.url
                _download(local.as_uri() if local else url, archive, rf, on_progress, timeout)
        if rf.extract:
            dest = (
                archive.parent
                if _writable(archive.parent)
                else (fallback / PurePosixPath(rf.path).parent if fallback else None)
            )
            if dest is None:
                raise ResourceError(f"{archive.parent}: not writable, cannot unpack {archive.name}")
            out.extend(extract_zip(archive, rf.extract, dest))
        else:
            out.append(archive)
    return out


def _download(
    url: str,
    target: Path,
    rf: RemoteFile,
    on_progress: Callable[[str, int, int | None], None] | None,
    timeout: float,
) -> None:
    import urllib.error  # imported here: every CLI start imports this module
    import urllib.request

    created = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    done = False
    try:
        h = hashlib.sha1()
        got = 0
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0) or rf.size
                while True:
                    block = resp.read(1 << 16)
                    if not block:
                        break
                    out.write(block)
                    h.update(block)
                    got += len(block)
                    if on_progress:
                        on_progress(rf.path, got, total)
        except (urllib.error.URLError, OSError, ValueError) as e:
            reason = getattr(e, "reason", None) or e
            raise ResourceError(
                f"cannot download {url}: {reason}",
                hint=f"put a copy of {rf.path} (sha1 {rf.sha1}) under $SEQTOOL_DATA, or pass --mirror URL",
            ) from None
        digest = h.hexdigest()
        if digest != rf.sha1:
            raise InputError(
                f"checksum mismatch for {url}: expected sha1 {rf.sha1}, found {digest} ({got} bytes); nothing was kept"
            )
        os.replace(tmp, target)
        done = True
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if not done:  # leave no empty folders behind either
            for d in created:  # innermost first
                with contextlib.suppress(OSError):
                    d.rmdir()


def extract_zip(archive: Path, members: tuple[str, ...], dest: Path) -> list[Path]:
    """Unpack the named members of a zip archive under ``dest``, safely.

    Refuses any archive entry that is absolute, climbs out with ``..``, or is a
    symbolic link; each member is written atomically.
    """
    out: list[Path] = []
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise InputError(f"{archive}: not a valid zip archive") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        for info in infos.values():
            p = PurePosixPath(info.filename)
            if p.is_absolute() or ".." in p.parts or "\\" in info.filename:
                raise InputError(
                    f"{archive}: refusing archive member {info.filename!r} outside its folder"
                )
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(
                    f"{archive}: refusing symbolic link {info.filename!r} in the archive"
                )
        for member in members:
            if member not in infos:
                raise InputError(f"{archive}: member {member} is missing from the archive")
            info = infos[member]
            target = dest / member
            if target.is_file() and target.stat().st_size == info.file_size:
                out.append(target)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".part", dir=target.parent
            )
            try:
                with zf.open(info) as src, os.fdopen(fd, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp_name, target)
            except zipfile.BadZipFile as e:
                raise InputError(f"{archive}: corrupt member {member}: {e}") from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
            out.append(target)
    return out
