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
            files = tuple(_remote_file(f, source) for f in entry["files"])
            for f in files:
                _check_relative(f.path, source)
                for m in f.extract:
                    _check_relative(m, source)
            out[name] = Dataset(name, str(entry.get("description", "")), files)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise InputError(f"{source}: malformed registry ({type(e).__name__}: {e})") from None
    return out


def _remote_file(f: Any, source: Any) -> RemoteFile:
    """One registry entry, its fields checked: strings, a 40-digit sha1, a whole size."""
    for key in ("path", "url", "sha1"):
        if not isinstance(f[key], str):
            raise InputError(f"{source}: malformed registry: {key} {f[key]!r} is not a string")
    sha1 = f["sha1"].lower()
    if len(sha1) != 40 or any(c not in "0123456789abcdef" for c in sha1):
        raise InputError(f"{source}: malformed registry: sha1 {f['sha1']!r} is not 40 hex digits")
    size = f.get("size")
    if size is not None and (type(size) is not int or size < 0):
        raise InputError(f"{source}: malformed registry: size {size!r} is not a number of bytes")
    extract = f.get("extract", ())
    if isinstance(extract, str) or not all(isinstance(m, str) for m in extract):
        raise InputError(f"{source}: malformed registry: extract must be a list of paths")
    if not f["url"].startswith(("https://", "http://")):
        raise InputError(f"{source}: malformed registry: url {f['url']!r} is not http(s)")
    return RemoteFile(f["path"], f["url"], sha1, size, tuple(extract))


def _check_relative(rel: str, source: Any) -> None:
    p = PurePosixPath(rel)
    if any(ord(c) < 32 or c == "\x7f" or c == "\\" for c in rel):
        raise InputError(f"{source}: path {rel!r} holds a control character or a backslash")
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


SIZE_SLACK = 64 << 10  # bytes a download may exceed its registered size by (and 1%)


def default_deadline(size: int | None) -> float:
    """Seconds a whole download may take: a minute, plus a second per 20 kB registered."""
    return 60.0 + (size or 0) / 20_000


def size_cap(rf: RemoteFile) -> int | None:
    """The most bytes a download of ``rf`` may bring (None: no registered size)."""
    return None if rf.size is None else rf.size + max(SIZE_SLACK, rf.size // 100)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ResourceError(f"{folder}: exists and is not a folder") from None
    except NotADirectoryError:
        raise ResourceError(f"{folder}: a part of this path is a file, not a folder") from None
    except PermissionError:
        raise ResourceError(
            f"{folder}: cannot create it (permission denied)",
            hint="pass --dir with a writable folder",
        ) from None
    except OSError as e:
        raise ResourceError(f"{folder}: cannot create it ({e.strerror})") from None


def why_missing(name: str, roots: list[Path], registry: dict[str, Dataset]) -> str:
    """Why :func:`locate` finds no usable copy of ``name`` under ``roots``, in one clause."""
    ds = get_dataset(name, registry)
    where = ", ".join(str(r) for r in roots)
    for rf in ds.files:
        archives = [r / rf.path for r in roots if (r / rf.path).is_file()]
        if rf.extract:
            if all(any((r / m).is_file() for r in roots) for m in rf.extract):
                continue
            if archives:
                return (
                    f"{archives[0]} is there but not unpacked "
                    f"(run `seqtool data fetch {name}` to unpack it into the cache)"
                )
            return f"neither {rf.path} nor its unpacked files are under {where}"
        if not archives:
            return f"{rf.path} is not under {where}"
        if not any(sha1_of(p) == rf.sha1 for p in archives):
            return f"{archives[0]} does not have the registered sha1 {rf.sha1}"
    return f"{name} is on disk"


def fetch(
    name: str,
    root: Path,
    registry: dict[str, Dataset],
    mirror: str | None = None,
    fallback: Path | None = None,
    on_progress: Callable[[str, int, int | None], None] | None = None,
    timeout: float = 60.0,
    sources: list[Path] | None = None,
    deadline: float | None = None,
) -> list[Path]:
    """Make a dataset available under ``root`` and return its usable files.

    A file already under ``root`` with the right sha1 is used as it is.  When
    ``root`` is read-only (a shared mirror), downloads and unpacked members go to
    ``fallback``.  A missing file found with the right sha1 under one of
    ``sources`` (other data folders on this machine, mirrors) is copied instead of
    downloaded, and an archive found there is unpacked from where it is: nothing is
    ever written into a source.  ``mirror`` replaces the registered URLs by
    ``mirror/<path>``.  ``timeout`` bounds each network wait, ``deadline`` (seconds;
    default :func:`default_deadline`) the whole download of each file, and a
    download stops once it passes the registered size (plus a little slack).
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
                raise ResourceError(
                    f"{root}: not writable, and {rf.path} is missing there",
                    hint="pass --dir with a writable folder",
                )
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
                if local is not None and rf.extract:
                    # unpack from the source's copy: the archive itself is not needed here
                    into = write_root / PurePosixPath(rf.path).parent
                    out.extend(extract_zip(local, rf.extract, into))
                    continue
                url = f"{mirror.rstrip('/')}/{rf.path}" if mirror else rf.url
                limit = default_deadline(rf.size) if deadline is None else deadline
                _download(
                    local.as_uri() if local else url, archive, rf, on_progress, timeout, limit
                )
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


def _reason(e: BaseException) -> str:
    """The first line of a download error (a redirect loop's message spans three)."""
    reason = getattr(e, "reason", None) or e
    code = getattr(e, "code", None)
    text = str(reason).strip().splitlines()[0] if str(reason).strip() else type(e).__name__
    if code == 310 or "redirect" in text and "infinite loop" in text:
        return "too many redirects (a redirect loop)"
    return f"HTTP {code} {text}" if isinstance(code, int) else text


def _download(
    url: str,
    target: Path,
    rf: RemoteFile,
    on_progress: Callable[[str, int, int | None], None] | None,
    timeout: float,
    deadline: float | None = None,
) -> None:
    import time
    import urllib.error  # imported here: every CLI start imports this module
    import urllib.request

    created = [d for d in (target.parent, *target.parent.parents) if not d.exists()]
    done = False
    tmp: Path | None = None
    cap = size_cap(rf)
    limit = default_deadline(rf.size) if deadline is None else deadline
    started = time.monotonic()
    hint = f"put a copy of {rf.path} (sha1 {rf.sha1}) under $SEQTOOL_DATA, or pass --mirror URL"
    try:
        _make_folder(target.parent)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".part", dir=target.parent
        )
        tmp = Path(tmp_name)
        h = hashlib.sha1()
        got = 0
        try:
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(url, timeout=min(timeout, limit)) as resp,
            ):
                declared = int(resp.headers.get("Content-Length") or 0)
                if cap is not None and declared > cap:
                    raise InputError(
                        f"{url}: the server offers {declared} bytes, but {rf.path} is "
                        f"{rf.size} bytes; nothing was kept"
                    )
                total = declared or rf.size
                read = getattr(resp, "read1", resp.read)  # returns what has arrived
                while True:
                    if time.monotonic() - started > limit:
                        raise ResourceError(
                            f"cannot download {url}: not finished after {limit:.0f} s "
                            f"({got} of {total or '?'} bytes); nothing was kept",
                            hint=hint,
                        )
                    block = read(1 << 16)
                    if not block:
                        break
                    got += len(block)
                    if cap is not None and got > cap:
                        raise InputError(
                            f"{url}: sent more than the {rf.size} bytes registered for "
                            f"{rf.path}; stopped, nothing was kept"
                        )
                    out.write(block)
                    h.update(block)
                    if on_progress:
                        on_progress(rf.path, got, total)
        except (urllib.error.URLError, ValueError, TimeoutError) as e:
            raise ResourceError(f"cannot download {url}: {_reason(e)}", hint=hint) from None
        except OSError as e:
            if e.errno in (28, 122):  # ENOSPC, EDQUOT
                raise ResourceError(f"{target.parent}: no space left on the device") from None
            raise ResourceError(f"cannot download {url}: {_reason(e)}", hint=hint) from None
        except http_errors() as e:
            raise ResourceError(f"cannot download {url}: {_reason(e)}", hint=hint) from None
        digest = h.hexdigest()
        if digest != rf.sha1:
            raise InputError(
                f"checksum mismatch for {url}: expected sha1 {rf.sha1}, found {digest} ({got} bytes); nothing was kept"
            )
        os.replace(tmp, target)
        done = True
    finally:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if not done:  # leave no empty folders behind either
            for d in created:  # innermost first
                with contextlib.suppress(OSError):
                    d.rmdir()


def http_errors() -> tuple[type[Exception], ...]:
    """http.client's protocol errors (a server closing early, a bad status line)."""
    import http.client

    return (http.client.HTTPException,)


def extract_zip(archive: Path, members: tuple[str, ...], dest: Path) -> list[Path]:
    """Unpack the named members of a zip archive under ``dest``, safely.

    Refuses any archive entry that is absolute, climbs out with ``..``, or is a
    symbolic link; each member is written atomically.
    """
    out: list[Path] = []
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError, NotImplementedError):
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
            except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as e:
                # RuntimeError: an encrypted member; NotImplementedError: an unknown method
                raise InputError(f"{archive}: corrupt member {member}: {e}") from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
            out.append(target)
    return out
