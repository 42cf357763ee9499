"""Hostile inputs, outputs and environments (issue 13): each case asserts the contract.

The contract: one ``seqtool: error:`` line (an optional ``hint:`` line), no control
characters, no traceback, no "unexpected" error, the right exit code, no partial or
replaced file, and bounded memory and time.  Cases that need a real process (closed
descriptors, signals, environment variables, memory limits) run ``python -m seqtool``
in a subprocess with an address-space limit (``resource.setrlimit``) and a timeout;
the rest run in-process through typer's CliRunner.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.server
import io
import json
import os
import re
import resource
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from seqtool import io as sio
from seqtool import limits
from seqtool.errors import InputError, UsageError

ROOT = Path(__file__).resolve().parents[1]
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # anything but the line break


@dataclass
class Proc:
    exit_code: int
    stdout: str
    stderr: str


def seqtool(
    *args: object,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = subprocess.PIPE,
    close: tuple[int, ...] = (),
    mem_gb: float = 1.5,
    timeout: float = 120,
) -> Proc:
    """Run ``python -m seqtool ARGS`` with at most ``mem_gb`` of address space."""

    def limit() -> None:
        cap = int(mem_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        for fd in close:
            os.close(fd)

    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    p = subprocess.run(
        [sys.executable, "-m", "seqtool", *map(str, args)],
        cwd=cwd,
        env=full_env,
        stdin=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        preexec_fn=limit,
        timeout=timeout,
    )
    out = p.stdout.decode("utf-8", "replace") if isinstance(p.stdout, bytes) else ""
    return Proc(p.returncode, out, p.stderr.decode("utf-8", "replace"))


def assert_contract(run: Any, code: int, match: str | None = None) -> None:
    """One clean error line and the exit code; ``match`` a regex the error must contain."""
    err = run.stderr
    assert run.exit_code == code, (run.exit_code, err)
    assert "Traceback" not in err, err
    errors = [ln for ln in err.splitlines() if ln.startswith("seqtool: error: ")]
    assert len(errors) == 1, err
    assert "unexpected" not in errors[0], err
    assert not CONTROL.search(err), repr(err)
    if match:
        assert re.search(match, errors[0]), errors[0]


def no_temps(folder: Path) -> None:
    left = [n for n in os.listdir(folder) if n.endswith((".tmp", ".part"))]
    assert not left, left


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    p = tmp_path / "c.txt"
    p.write_text("the cat sat on the mat\nthe dog sat on the log\n" * 5, encoding="utf-8")
    return p


# ---------------------------------------------------------------------- 13.1 outputs
def test_fifo_output_is_written_not_replaced(cli, corpus: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    run = cli("vocab", "build", corpus, "-o", fifo)
    reader.join(30)
    assert run.exit_code == 0, run.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(got[0])["format"] == "seqtool-vocab"
    no_temps(tmp_path)


def test_symlink_to_a_file_is_followed_and_kept(cli, corpus: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text("old\n")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert cli("vocab", "build", corpus, "-o", link).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert json.loads(real.read_text())["format"] == "seqtool-vocab"


def test_dangling_symlink_is_refused(cli, corpus: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "nowhere" / "x.json")
    assert_contract(cli("vocab", "build", corpus, "-o", link), 2, "symbolic link")
    assert link.is_symlink()


def test_device_behind_a_symlink_full_disk_is_one_line(cli, corpus: Path, tmp_path: Path) -> None:
    link = tmp_path / "full.json"
    link.symlink_to("/dev/full")
    assert_contract(cli("vocab", "build", corpus, "-o", link), 1, "no space left")
    assert link.is_symlink() and os.readlink(link) == "/dev/full"
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    no_temps(tmp_path)


def test_stdout_symlink_gets_the_data(corpus: Path, tmp_path: Path) -> None:
    link = tmp_path / "out.json"
    link.symlink_to("/dev/stdout")
    run = seqtool("vocab", "build", corpus, "-o", link, cwd=tmp_path)
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["format"] == "seqtool-vocab"
    assert link.is_symlink()


def test_rewrite_keeps_the_file_mode(cli, corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "v.json"
    out.write_text("{}")
    out.chmod(0o600)
    assert cli("vocab", "build", corpus, "-o", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    out.chmod(0o640)
    assert cli("ngrams", corpus, "--save", tmp_path / "c.npz", "-q").exit_code == 0
    assert cli("vocab", "build", corpus, "-o", out).exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_full_stdout_is_one_line(corpus: Path, tmp_path: Path) -> None:
    with open("/dev/full", "wb") as full:
        run = seqtool("ngrams", corpus, "--format", "tsv", cwd=tmp_path, stdout=full)
    assert_contract(run, 1, "no space left")


# ---------------------------------------------------------------------- 13.4 long lines, sizes
def test_long_line_read_in_linear_time(tmp_path: Path) -> None:
    line = b"x" * (8 << 20)  # one 8 MB line read in 4 kB blocks: 2,048 pieces
    path = tmp_path / "long.txt"
    path.write_bytes(line + b"\nend\n")
    start = time.perf_counter()
    pieces = list(sio.iter_chunks([path], chunk_bytes=4096))
    elapsed = time.perf_counter() - start
    assert "".join(pieces) == line.decode() + "\nend\n"
    # quadratic re-joining copied ~8 GB here (many seconds); linear reading takes ms
    assert elapsed < 2.0, elapsed


def test_line_cap_names_the_line(cli, tmp_path: Path) -> None:
    f = tmp_path / "t.txt"
    f.write_text("short\nalso short\n" + "y" * 300 + "\nend\n")
    run = cli("--max-line-bytes", "100", "ngrams", f)
    assert_contract(run, 1, r"t\.txt:3: line longer than 100 bytes")
    assert "--max-line-bytes" in run.stderr
    assert cli("--max-line-bytes", "1K", "ngrams", f, "-q").exit_code == 0
    assert_contract(cli("--max-line-bytes", "lots", "ngrams", f), 2, "--max-line-bytes")
    with pytest.raises(InputError, match=":3: line longer"):
        list(sio.read_lines(f, max_line_bytes=299))
    assert len(list(sio.read_lines(f, max_line_bytes=300))) == 4


def test_compressed_giant_line_hits_the_default_cap(tmp_path: Path) -> None:
    bomb = tmp_path / "line.gz"
    bomb.write_bytes(gzip.compress(b"a" * (limits.DEFAULT_MAX_LINE_BYTES + (4 << 20)), 1))
    assert bomb.stat().st_size < 1 << 20
    run = seqtool("ngrams", bomb, cwd=tmp_path, mem_gb=1.0, timeout=60)
    assert_contract(run, 1, r"line\.gz:1: line longer than 67108864 bytes")


def test_nul_far_into_a_file_names_its_line(cli, tmp_path: Path) -> None:
    f = tmp_path / "n.txt"
    f.write_bytes(b"fine line\n" * 9999 + b"bad\x00line\n")
    assert_contract(cli("ngrams", f), 1, r"n\.txt:10000: .*binary file")


def test_subword_vocab_trains_on_a_bounded_sample(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqtool.text import vocab as vocab_mod

    monkeypatch.setattr(vocab_mod, "SUBWORD_SAMPLE_LINES", 300)
    f = tmp_path / "many.txt"
    f.write_text("".join(f"line number {i} says hello world\n" for i in range(2000)))
    out = tmp_path / "v.json"
    run = cli("vocab", "build", f, "-t", "bpe", "--vocab-size", "60", "-o", out)
    assert run.exit_code == 0, run.stderr
    assert "random sample of 300 of 2,000 lines" in run.stderr
    v = vocab_mod.Vocab.load(out)
    assert v.kind == "bpe" and len(v) <= 60
    sample, seen = vocab_mod._reservoir(iter(map(str, range(1000))), 10)
    assert seen == 1000 and len(set(sample)) == 10


# ---------------------------------------------------------------------- vectors
def write_vectors(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content,match",
    [
        ("\u00b2 10\nx 1\n", "two whole numbers"),
        ("9" * 5000 + " 10\n", "two whole numbers"),
        ("2 3\ncat 1 2 3\ndog nan 2 3\n", "'dog'.*NaN"),
        ("2 3\ncat 1 2 3\ndog 1e39 2 3\n", "'dog'.*infinite"),
    ],
)
def test_hostile_vector_files(cli, tmp_path: Path, content: str, match: str) -> None:
    v = write_vectors(tmp_path / "v.txt", content)
    assert_contract(cli("word2vec", "similar", v, "cat"), 1, match)


def test_vector_header_claiming_a_trillion_rows(tmp_path: Path) -> None:
    v = write_vectors(tmp_path / "v.txt", "1000000000000 300\ncat " + "0.5 " * 300 + "\n")
    run = seqtool("word2vec", "similar", v, "cat", cwd=tmp_path, mem_gb=3.0)
    assert_contract(run, 1, "promises 1000000000000 vectors")
    gz = tmp_path / "v.txt.gz"  # compressed: the size is unknown, rows are read as they come
    gz.write_bytes(gzip.compress(v.read_bytes()))
    run = seqtool("word2vec", "similar", gz, "cat", cwd=tmp_path, mem_gb=3.0)
    assert_contract(run, 1, "truncated")


# ---------------------------------------------------------------------- vocabularies
@pytest.fixture
def vocab_dict(tmp_path: Path) -> dict[str, Any]:
    from seqtool.text.vocab import Vocab

    return Vocab.build(["the cat sat", "the dog"], kind="word").to_dict()


def dump(tmp_path: Path, obj: Any, raw: str | None = None) -> Path:
    p = tmp_path / "hostile.json"
    p.write_text(raw if raw is not None else json.dumps(obj), encoding="utf-8")
    return p


VOCAB_MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "format_version string": (lambda d: {**d, "format_version": "1"}, "format_version must be"),
    "duplicate token": (
        lambda d: {**d, "tokens": [*d["tokens"], d["tokens"][-1]]},
        "appears more than once",
    ),
    "token with space": (lambda d: {**d, "tokens": [*d["tokens"], ["a b", 1]]}, "white space"),
    "token with newline": (
        lambda d: {**d, "tokens": [*d["tokens"], ["a\nb", 1]]},
        "white space",
    ),
    "empty token": (lambda d: {**d, "tokens": [*d["tokens"], ["", 1]]}, "is empty"),
    "negative count": (lambda d: {**d, "tokens": [*d["tokens"], ["neg", -1]]}, ">= 0"),
    "huge float count": (lambda d: {**d, "tokens": [*d["tokens"], ["big", 1e300]]}, ">= 0"),
    "count as string": (lambda d: {**d, "tokens": [*d["tokens"], ["s", "3"]]}, ">= 0"),
    "token not a string": (lambda d: {**d, "tokens": [*d["tokens"], [7, 1]]}, "not a string"),
    "tokens not a list": (lambda d: {**d, "tokens": {"a": 1}}, "list of"),
}


@pytest.mark.parametrize("case", sorted(VOCAB_MUTATIONS))
def test_hostile_vocabularies(cli, tmp_path: Path, vocab_dict: dict[str, Any], case: str) -> None:
    mutate, match = VOCAB_MUTATIONS[case]
    assert_contract(cli("vocab", "show", dump(tmp_path, mutate(vocab_dict))), 1, match)


@pytest.mark.parametrize(
    "raw,match",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"format": "seqtool-vocab", "count": Infinity}', "Infinity is not a number"),
        ('{"format": "seqtool-vocab", "count": NaN}', "NaN is not a number"),
    ],
)
def test_hostile_vocabulary_json(cli, tmp_path: Path, raw: str, match: str) -> None:
    assert_contract(cli("vocab", "show", dump(tmp_path, None, raw)), 1, match)


def test_infinite_and_surrogate_tokens(cli, tmp_path: Path, vocab_dict: dict[str, Any]) -> None:
    text = json.dumps(vocab_dict)
    inf = text.replace('["the", 2]', '["the", 1e999]')
    assert inf != text
    assert_contract(cli("vocab", "show", dump(tmp_path, None, inf)), 1, ">= 0")
    lone = text.replace('["the", 2]', '["\\ud800", 2]')
    assert_contract(cli("vocab", "show", dump(tmp_path, None, lone)), 1, "lone surrogate")


@pytest.fixture(scope="module")
def bpe_dict(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from seqtool.text.vocab import Vocab

    lines = [f"sentence {i} about cats and dogs" for i in range(200)]
    return Vocab.build(lines, kind="bpe", vocab_size=40).to_dict()


@pytest.mark.parametrize("case", ["garbage", "empty", "foreign", "more pieces", "fewer pieces"])
def test_embedded_sentencepiece_model_is_checked_at_load(
    cli, tmp_path: Path, bpe_dict: dict[str, Any], case: str
) -> None:
    from seqtool.text.vocab import Vocab

    d = json.loads(json.dumps(bpe_dict))
    if case == "garbage":
        d["spm_model"] = base64.b64encode(b"not a model at all" * 5).decode()
    elif case == "empty":
        d["spm_model"] = ""
    elif case == "foreign":
        other = Vocab.build([f"zz{i} qq yy" for i in range(300)], kind="bpe", vocab_size=40)
        d["spm_model"] = base64.b64encode(other.spm_model or b"").decode()
    elif case == "more pieces":
        d["tokens"] = d["tokens"][:-1]
    else:
        d["tokens"] = [*d["tokens"], ["extra", 0]]
    match = "pieces|sentencepiece model"
    assert_contract(cli("vocab", "show", dump(tmp_path, d)), 1, match)


# ---------------------------------------------------------------------- .npz counts
@pytest.fixture
def counts_npz(cli, corpus: Path, tmp_path: Path) -> Path:
    out = tmp_path / "c.npz"
    assert cli("ngrams", corpus, "-n", "1", "--save", out, "-q").exit_code == 0
    return out


def rewrite_npz(path: Path, **changes: np.ndarray) -> Path:
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    out = path.with_name("hostile.npz")
    np.savez(out, **arrays)  # type: ignore[arg-type]
    return out


def test_npz_negative_counts(cli, counts_npz: Path) -> None:
    with np.load(counts_npz) as z:
        counts = -z["counts_1"]
    bad = rewrite_npz(counts_npz, counts_1=counts)
    assert_contract(cli("zipf", "--counts", bad), 1, "counts are 1 or more")


def test_npz_deep_metadata(cli, counts_npz: Path) -> None:
    meta = np.frombuffer(b"[" * 100_000 + b"]" * 100_000, dtype=np.uint8)
    assert_contract(cli("zipf", "--counts", rewrite_npz(counts_npz, meta=meta)), 1, "deeply")


def test_npz_object_member_is_refused(cli, counts_npz: Path, tmp_path: Path) -> None:
    bad = tmp_path / "obj.npz"
    np.savez(bad, meta=np.array([{"a": 1}], dtype=object))
    assert_contract(cli("zipf", "--counts", bad), 1, "not numbers|pickle|damaged")


def test_npz_decompression_bomb(tmp_path: Path) -> None:
    """A small deflated member that would inflate to 300 MB is refused before inflating."""
    bomb = tmp_path / "bomb.npz"
    header = io.BytesIO()
    n = 300 << 20
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<i8", "fortran_order": False, "shape": (n // 8,)}
    )
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("counts_1.npy", "w", force_zip64=True) as m:
            m.write(header.getvalue())
            block = bytes(1 << 20)
            for _ in range(n >> 20):
                m.write(block)
    assert bomb.stat().st_size < 2 << 20
    run = seqtool("zipf", "--counts", bomb, cwd=tmp_path, mem_gb=1.0)
    assert_contract(run, 1, "decompression bomb")


# ---------------------------------------------------------------------- 13.5 data fetch
def toy_registry(tmp_path: Path, base: str, body: bytes, **extra: Any) -> Path:
    entry = {
        "path": "toy.txt",
        "url": f"{base}/toy.txt",
        "sha1": hashlib.sha1(body).hexdigest(),
        "size": len(body),
        **extra,
    }
    reg = {
        "format": "seqtool-datasets",
        "format_version": 1,
        "datasets": {"toy": {"description": "toy", "files": [entry]}},
    }
    p = tmp_path / "registry.json"
    p.write_text(json.dumps(reg))
    return p


@pytest.fixture
def hostile_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A loopback server that misbehaves on purpose, by path."""
    sent: dict[str, Any] = {"bytes": 0}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *a: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            try:
                if self.path.startswith("/big-declared"):
                    self.send_response(200)
                    self.send_header("Content-Length", str(10 << 20))
                    self.end_headers()
                    self.wfile.write(b"z" * (1 << 16))
                elif self.path.startswith("/big"):
                    self.send_response(200)
                    self.end_headers()  # no length: the body runs until the socket closes
                    for _ in range(160):  # 10 MB
                        self.wfile.write(b"z" * (1 << 16))
                        sent["bytes"] += 1 << 16
                elif self.path.startswith("/trickle"):
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(1000):
                        self.wfile.write(b"t")
                        self.wfile.flush()
                        time.sleep(0.2)
                elif self.path.startswith("/loop"):
                    self.send_response(302)
                    self.send_header("Location", self.path)
                    self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", sent
    httpd.shutdown()
    httpd.server_close()


def test_oversized_download_stops_at_the_registered_size(
    cli, tmp_path: Path, hostile_server: tuple[str, dict[str, Any]]
) -> None:
    base, sent = hostile_server
    reg = toy_registry(tmp_path, f"{base}/big", b"x" * 1000)
    run = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "d", "-q")
    assert_contract(run, 1, "more than the 1000 bytes registered")
    assert sent["bytes"] < 5 << 20  # stopped early, not after all 10 MB
    assert not (tmp_path / "d").exists()
    reg = toy_registry(tmp_path, f"{base}/big-declared", b"x" * 1000)
    run = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "d", "-q")
    assert_contract(run, 1, "offers 10485760 bytes")


def test_trickling_server_meets_the_deadline(
    cli, tmp_path: Path, hostile_server: tuple[str, dict[str, Any]]
) -> None:
    base, _ = hostile_server
    reg = toy_registry(tmp_path, f"{base}/trickle", b"t" * 1000)
    start = time.monotonic()
    run = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "d", "--timeout", "2")
    assert time.monotonic() - start < 10
    assert_contract(run, 1, "not finished after 2 s")
    assert not (tmp_path / "d").exists()
    assert_contract(cli("data", "fetch", "toy", "--timeout", "nan"), 2, "--timeout")


def test_redirect_loop_is_one_line(
    cli, tmp_path: Path, hostile_server: tuple[str, dict[str, Any]]
) -> None:
    base, _ = hostile_server
    reg = toy_registry(tmp_path, f"{base}/loop", b"x")
    run = cli("data", "fetch", "toy", "--registry", reg, "--dir", tmp_path / "d")
    assert_contract(run, 1, "redirect loop")
    assert len(run.stderr.strip().splitlines()) <= 2  # the error and its hint


@pytest.mark.parametrize(
    "extra,match",
    [
        ({"size": "big"}, "size 'big'"),
        ({"size": -5}, "size -5"),
        ({"path": "a\u0000b.txt"}, "control character"),
        ({"url": "file:///etc/passwd"}, "not http"),
        ({"sha1": "abc"}, "40 hex digits"),
    ],
)
def test_malformed_registry(cli, tmp_path: Path, extra: dict[str, Any], match: str) -> None:
    reg = toy_registry(tmp_path, "http://127.0.0.1:9", b"x", **extra)
    assert_contract(cli("data", "list", "--registry", reg), 1, match)


def test_seqtool_data_naming_a_file(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    monkeypatch.setenv("SEQTOOL_DATA", str(f))
    assert_contract(cli("data", "list"), 2, "SEQTOOL_DATA must name a folder")
    assert_contract(cli("data", "fetch", "timemachine"), 2, "SEQTOOL_DATA must name a folder")


def test_unwritable_cache_is_one_line(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "home-is-a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / ".cache"))
    reg = toy_registry(tmp_path, "http://127.0.0.1:9", b"x")
    assert_contract(cli("data", "fetch", "toy", "--registry", reg), 1, "not a folder|not writable")
    monkeypatch.setenv("XDG_CACHE_HOME", "/proc/seqtool-cache")  # read-only even for root
    assert_contract(cli("data", "fetch", "toy", "--registry", reg), 1, "writable|cannot create")


def test_sigterm_during_fetch_cleans_up(
    tmp_path: Path, hostile_server: tuple[str, dict[str, Any]]
) -> None:
    base, _ = hostile_server
    reg = toy_registry(tmp_path, f"{base}/trickle", b"t" * 1000)
    dest = tmp_path / "new" / "deeper"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-m", "seqtool", "data", "fetch", "toy", "--registry", str(reg),
         "--dir", str(dest)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (dest.exists() and any(n.endswith(".part") for n in os.listdir(dest))):
        assert time.monotonic() < deadline and p.poll() is None, p.stderr.read().decode()
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert_contract(Proc(p.returncode, "", err.decode()), 143, "terminated")
    assert not (tmp_path / "new").exists()  # no .part file, no folder it created


def test_fetch_never_writes_into_the_mirror(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seqtool.datasets import load_registry, why_missing

    member = b"hello mirror\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toy/data.txt", member)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "toy.zip").write_bytes(buf.getvalue())
    reg_path = toy_registry(tmp_path, "http://127.0.0.1:9", buf.getvalue())
    raw = json.loads(reg_path.read_text())
    raw["datasets"]["toy"]["files"][0].update(path="toy.zip", extract=["toy/data.txt"])
    reg_path.write_text(json.dumps(raw))
    cache = tmp_path / "cache"
    monkeypatch.setenv("SEQTOOL_DATA", str(mirror))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    reg = load_registry(reg_path)
    assert "is there but not unpacked" in why_missing("toy", [mirror, cache / "seqtool"], reg)
    run = cli("data", "fetch", "toy", "--registry", reg_path, "-q")
    assert run.exit_code == 0, run.stderr
    assert sorted(os.listdir(mirror)) == ["toy.zip"]  # nothing written into the mirror
    assert (cache / "seqtool" / "toy" / "data.txt").read_bytes() == member
    assert run.stdout.strip() == str(cache / "seqtool" / "toy" / "data.txt")
    assert "neither toy.zip" in why_missing("toy", [tmp_path / "empty"], reg)


# ---------------------------------------------------------------------- 13.6 threads, workers
def test_threads_and_workers_are_bounded(cli, corpus: Path, tmp_path: Path) -> None:
    from seqtool.train.device import set_threads

    big = str(limits.max_threads() + 1)
    run = cli("word2vec", "train", corpus, "-o", tmp_path / "v.txt", "--threads", "100000")
    assert_contract(run, 2, "--threads must be at most")
    run = cli("ngrams", corpus, "--workers", "300")
    assert_contract(run, 2, "--workers must be at most")
    run = cli("train-lm", corpus, "--model", "gru", "--threads", big, "-o", tmp_path / "m.pt")
    assert_contract(run, 2, "--threads must be at most")
    with pytest.raises(UsageError, match="at most"):
        set_threads(100_000)  # also what a resume file's saved threads goes through
    assert not list(tmp_path.glob("*.pt")) and not (tmp_path / "v.txt").exists()


# ---------------------------------------------------------------------- 13.7 output is input
@pytest.mark.parametrize(
    "argv",
    [
        ["vocab", "build", "{c}", "-o", "{c}"],
        ["ngrams", "{c}", "--save", "{c}"],
        ["word2vec", "train", "{c}", "-o", "{c}"],
        ["train-lm", "{c}", "--model", "gru", "-o", "{c}"],
        ["train-lm", "{c}", "--model", "gru", "-o", "{d}/m.pt", "--log", "{c}"],
        ["vocab", "build", "{c}", "-o", "{d}/hardlink.txt"],
        ["zipf", "{c}", "--plot", "{c}"],
    ],
)
def test_output_that_is_an_input_is_refused(
    cli, corpus: Path, tmp_path: Path, argv: list[str]
) -> None:
    os.link(corpus, tmp_path / "hardlink.txt")
    before = corpus.read_bytes()
    args = [a.format(c=corpus, d=tmp_path) for a in argv]
    assert_contract(cli(*args), 2, "is also an input")
    assert corpus.read_bytes() == before
    assert not (tmp_path / "m.pt").exists()
    no_temps(tmp_path)


def test_output_input_check_sees_stdin(corpus: Path, tmp_path: Path) -> None:
    with open(corpus, "rb") as f:
        run = seqtool("vocab", "build", "-", "-o", corpus, cwd=tmp_path, stdin=f)
    assert_contract(run, 2, "is also an input")
    assert corpus.read_text().startswith("the cat")


# ---------------------------------------------------------------------- 13.10 leftovers
def test_stale_temps_of_a_killed_run_are_removed(cli, corpus: Path, tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".v.json.{dead.pid}.abcd1234.tmp"
    live = tmp_path / f".v.json.{os.getpid()}.efgh5678.tmp"  # a concurrent writer's: kept
    other = tmp_path / f".w.json.{dead.pid}.abcd1234.tmp"  # another output's: kept
    legacy = tmp_path / ".v.json.zyxw9876.tmp"  # an older seqtool's, two hours old
    for p in (stale, live, other, legacy):
        p.write_text("half")
    old = time.time() - 7200
    os.utime(legacy, (old, old))
    assert cli("vocab", "build", corpus, "-o", tmp_path / "v.json").exit_code == 0
    assert not stale.exists() and not legacy.exists()
    assert live.exists() and other.exists()


# ---------------------------------------------------------------------- one-line errors
@pytest.mark.parametrize("enc", ["rot13", "base64", "zlib", "hex"])
def test_transform_codecs_are_not_encodings(cli, corpus: Path, enc: str) -> None:
    assert_contract(cli("ngrams", corpus, "--encoding", enc), 2, "not a text encoding")


def test_utf16_without_bom(cli, tmp_path: Path) -> None:
    f = tmp_path / "u.txt"
    f.write_bytes("hello world\n".encode("utf-16-le"))
    assert_contract(cli("ngrams", f, "--encoding", "utf-16"), 1, "BOM")
    assert cli("ngrams", f, "--encoding", "utf-16-le", "-q").exit_code == 0


def test_closed_stdout_stdin_stderr(corpus: Path, tmp_path: Path) -> None:
    run = seqtool("ngrams", corpus, "--format", "tsv", cwd=tmp_path, close=(1,))
    assert_contract(run, 1, "standard output is closed")
    run = seqtool("ngrams", "-", cwd=tmp_path, close=(0,))
    assert_contract(run, 1, "standard input is closed")
    run = seqtool("ngrams", tmp_path / "missing.txt", cwd=tmp_path, close=(2,))
    assert run.exit_code == 1 and run.stdout == ""  # the error does not land in stdout
    out = tmp_path / "v.json"
    run = seqtool("vocab", "build", corpus, "-o", out, cwd=tmp_path, close=(2,))
    assert run.exit_code == 0 and run.stdout == "" and out.exists()


def test_ascii_output_encoding(tmp_path: Path) -> None:
    f = tmp_path / "e.txt"
    f.write_text("caf\u00e9 cr\u00e8me\n", encoding="utf-8")
    run = seqtool("ngrams", f, "--format", "tsv", cwd=tmp_path, env={"PYTHONIOENCODING": "ascii"})
    assert_contract(run, 1, "cannot write '\\\\xe9' in the output encoding ascii")
    assert "PYTHONIOENCODING=utf-8" in run.stderr


def test_file_names_cannot_forge_lines_or_colour(cli, tmp_path: Path) -> None:
    name = "a\nseqtool: error: forged\x1b[31m.txt"
    run = cli("ngrams", tmp_path / name)
    assert_contract(run, 1, r"a\\nseqtool: error: forged\\x1b\[31m\.txt: no such file")


def test_sigint_on_a_reading_command_says_so(tmp_path: Path) -> None:
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-m", "seqtool", "zipf", str(fifo)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    with open(fifo, "wb") as w:  # returns once seqtool opened the FIFO to read it
        w.write(b"some words\n")
        w.flush()
        time.sleep(0.3)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    assert_contract(Proc(p.returncode, "", err.decode()), 130, "interrupted")


def test_demo_out_at_a_file(cli, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("keep me")
    assert_contract(cli("demo", "-o", f), 2, "must be a folder")
    assert f.read_text() == "keep me"


def test_huge_zipf_count(cli, tmp_path: Path) -> None:
    f = tmp_path / "freq.txt"
    f.write_text("a\t5\nb\t" + "9" * 30 + "\n")
    assert_contract(cli("zipf", "--counts", f), 1, "too large")


def test_socket_is_not_an_output(cli, corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        run = cli("vocab", "build", corpus, "-o", path)
    assert_contract(run, 1)
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_full_disk_on_a_regular_file_keeps_the_old_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from seqtool.errors import ResourceError

    out = tmp_path / "v.json"
    out.write_text("old\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sio.os, "fsync", full)
    with pytest.raises(ResourceError, match="no space left"):
        sio.write_text(out, "new\n")
    assert out.read_text() == "old\n"
    no_temps(tmp_path)
