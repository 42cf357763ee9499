"""Dataset registry, offline mirrors, downloads from a local HTTP server, safe unpacking."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest

from conftest import assert_one_line_error
from seqtool import datasets
from seqtool.datasets import extract_zip, fetch, load_registry, locate, sample_path
from seqtool.errors import InputError, ResourceError


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@pytest.fixture
def server(tmp_path: Path):
    """A throw-away HTTP server on 127.0.0.1 serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):  # keep test output clean
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def make_registry(
    tmp_path: Path, base: str, files: dict[str, bytes], extract: dict[str, list[str]] | None = None
) -> Path:
    extract = extract or {}
    reg = {
        "format": "seqtool-datasets",
        "format_version": 1,
        "datasets": {
            "toy": {
                "description": "a toy dataset",
                "files": [
                    {
                        "path": p,
                        "url": f"{base}/{p}",
                        "sha1": sha1(b),
                        "size": len(b),
                        **({"extract": extract[p]} if p in extract else {}),
                    }
                    for p, b in files.items()
                ],
            }
        },
    }
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(reg))
    return path


def test_bundled_registry_lists_the_four_datasets() -> None:
    reg = load_registry()
    assert set(reg) >= {"timemachine", "fra-eng", "ptb", "multi30k"}
    assert reg["timemachine"].files[0].sha1 == "090b5e7e70c295757f55df93cb0a180b9691891a"
    assert sample_path("english.txt").stat().st_size > 10_000
    assert sum(1 for _ in sample_path("en-fr.tsv").open()) >= 300


def test_download_verify_and_reuse(server, tmp_path: Path) -> None:
    www, base = server
    (www / "sub").mkdir()
    body = b"hello corpus\n" * 1000
    (www / "sub" / "a.txt").write_bytes(body)
    reg = load_registry(make_registry(tmp_path, base, {"sub/a.txt": body}))
    root = tmp_path / "cache"
    seen: list[int] = []
    paths = fetch("toy", root, reg, on_progress=lambda p, done, total: seen.append(done))
    assert paths == [root / "sub" / "a.txt"] and paths[0].read_bytes() == body
    assert seen[-1] == len(body)
    assert sorted(os.listdir(root / "sub")) == ["a.txt"]  # no temporary files left
    (www / "sub" / "a.txt").unlink()  # now the network copy is gone: the local one is used
    assert fetch("toy", root, reg) == paths
    assert locate("toy", [root], reg) == paths


def test_checksum_mismatch_keeps_nothing(server, tmp_path: Path) -> None:
    www, base = server
    (www / "a.txt").write_bytes(b"tampered\n")
    reg = load_registry(make_registry(tmp_path, base, {"a.txt": b"original\n"}))
    root = tmp_path / "cache"
    with pytest.raises(
        InputError,
        match=f"expected sha1 {sha1(b'original' + bytes([10]))}, found {sha1(b'tampered' + bytes([10]))}",
    ):
        fetch("toy", root, reg)
    assert not root.exists()  # not even the folders it would have made


def test_network_failure_is_a_clear_error(tmp_path: Path) -> None:
    reg = load_registry(make_registry(tmp_path, "http://127.0.0.1:9", {"a.txt": b"x"}))
    with pytest.raises(ResourceError, match="cannot download http://127.0.0.1:9/a.txt"):
        fetch("toy", tmp_path / "cache", reg, timeout=5)
    assert not (tmp_path / "cache").exists()


def test_interrupted_download_leaves_no_partial_file(server, tmp_path: Path) -> None:
    www, base = server
    body = os.urandom(1 << 20)
    (www / "big.bin").write_bytes(body)
    reg = load_registry(make_registry(tmp_path, base, {"big.bin": body}))
    root = tmp_path / "cache"

    def interrupt(path: str, done: int, total: int | None) -> None:
        if done > 100_000:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch("toy", root, reg, on_progress=interrupt)
    assert not root.exists()  # not even the folders it would have made


def test_mirror_option_and_archive_unpacking(server, tmp_path: Path) -> None:
    www, base = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toy/data.tsv", "hi\tsalut\n")
        zf.writestr("toy/_about.txt", "about\n")
    (www / "toy.zip").write_bytes(buf.getvalue())
    reg = load_registry(
        make_registry(
            tmp_path,
            "http://example.invalid",
            {"toy.zip": buf.getvalue()},
            {"toy.zip": ["toy/data.tsv"]},
        )
    )
    root = tmp_path / "cache"
    paths = fetch("toy", root, reg, mirror=base)
    assert paths == [root / "toy" / "data.tsv"]
    assert paths[0].read_text() == "hi\tsalut\n"


def test_read_only_mirror_unpacks_into_the_fallback(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, base = server
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toy/data.tsv", "a\tb\n")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.zip").write_bytes(buf.getvalue())
    # root may write anywhere, so pretend the mirror is read-only as a shared one is
    monkeypatch.setattr(datasets, "_writable", lambda p: not str(p).startswith(str(mirror)))
    reg = load_registry(
        make_registry(tmp_path, base, {"toy.zip": buf.getvalue()}, {"toy.zip": ["toy/data.tsv"]})
    )
    cache = tmp_path / "cache"
    paths = fetch("toy", mirror, reg, fallback=cache)
    assert paths == [cache / "toy" / "data.tsv"]
    assert sorted(os.listdir(mirror)) == ["toy.zip"]
    assert locate("toy", [mirror, cache], reg) == paths


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_zip_slip_is_refused(tmp_path: Path, member: str) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ok/data.txt", "fine")
        zf.writestr(member, "evil")
    with pytest.raises(InputError, match="outside its folder"):
        extract_zip(archive, ("ok/data.txt",), tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_in_archive_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("ok/link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="symbolic link"):
        extract_zip(archive, ("ok/link",), tmp_path / "out")


def test_registry_paths_must_stay_inside(tmp_path: Path) -> None:
    p = make_registry(tmp_path, "http://x", {"../../etc/passwd": b"x"})
    with pytest.raises(InputError, match="inside the data folder"):
        load_registry(p)


def test_cli_data_list_and_fetch(cli, server, tmp_path: Path) -> None:
    www, base = server
    body = b"one line\n"
    (www / "a.txt").write_bytes(body)
    reg = make_registry(tmp_path, base, {"a.txt": body})
    r = cli("data", "list", "--registry", reg, "--dir", tmp_path / "d", "--format", "tsv")
    assert r.stdout.split("\t")[:2] == ["toy", "no"]
    r = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "d")
    assert r.exit_code == 0 and r.stdout == f"{tmp_path / 'd' / 'a.txt'}\n"
    r = cli("data", "list", "--registry", reg, "--dir", tmp_path / "d", "--format", "tsv")
    assert r.stdout.split("\t")[:2] == ["toy", "yes"]


def test_cli_unknown_dataset_and_mismatch(cli, server, tmp_path: Path) -> None:
    www, base = server
    assert_one_line_error(cli("data", "fetch", "imagenet"), 2)
    (www / "a.txt").write_bytes(b"other\n")
    reg = make_registry(tmp_path, base, {"a.txt": b"expected\n"})
    r = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "d")
    assert_one_line_error(r, 1)
    assert "checksum mismatch" in r.stderr and not (tmp_path / "d" / "a.txt").exists()


def test_shared_mirror_works_offline(
    cli, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEQTOOL_DATA", str(shared_data))
    r = cli("data", "fetch", "timemachine")
    assert r.exit_code == 0 and r.stdout.strip() == str(shared_data / "timemachine.txt")
    r = cli("data", "fetch", "multi30k")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 6


def test_fetch_copies_from_a_local_source_before_downloading(tmp_path: Path) -> None:
    body = b"already on this machine\n"
    mirror = tmp_path / "mirror"
    (mirror / "sub").mkdir(parents=True)
    (mirror / "sub" / "a.txt").write_bytes(body)
    reg = load_registry(make_registry(tmp_path, "http://127.0.0.1:9", {"sub/a.txt": body}))
    target = tmp_path / "project" / "data"
    paths = fetch("toy", target, reg, sources=[tmp_path / "elsewhere", mirror], timeout=5)
    assert paths == [target / "sub" / "a.txt"] and paths[0].read_bytes() == body
    (mirror / "sub" / "a.txt").write_bytes(b"a different file\n")  # wrong sha1: not used
    with pytest.raises(ResourceError, match="cannot download"):
        fetch("toy", tmp_path / "other", reg, sources=[mirror], timeout=5)
    assert not (tmp_path / "other").exists()


def test_cli_fetch_into_dir_uses_the_data_mirror(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = b"mirrored\n"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "a.txt").write_bytes(body)
    reg = make_registry(tmp_path, "http://127.0.0.1:9", {"a.txt": body})
    monkeypatch.setenv("SEQTOOL_DATA", str(mirror))
    run = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "data", "-q")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "data" / "a.txt")
    assert (tmp_path / "data" / "a.txt").read_bytes() == body
