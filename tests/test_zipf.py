"""Zipf, power-law and Heaps fits, and the `seqtool zipf` command line."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from seqtool.errors import InputError
from seqtool.stats import zipf as Z
from tests.conftest import assert_one_line_error

# powerlaw 2.0 warns about its own deprecated attributes while fitting.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def moby_dick() -> Path:
    """words.txt from the powerlaw package: Moby Dick word frequencies (skips without it)."""
    pytest.importorskip("powerlaw")
    spec = importlib.util.find_spec("powerlaw")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "reference_data" / "words.txt"
    if not path.is_file():
        pytest.skip("powerlaw ships no reference_data/words.txt")
    return path


# ---------------------------------------------------------------- Hurwitz zeta
@pytest.mark.parametrize(
    "s,q,expect",
    [
        (2.0, 1.0, math.pi**2 / 6),
        (4.0, 1.0, math.pi**4 / 90),
        (2.0, 0.5, math.pi**2 / 2),  # zeta(2, 1/2) = (2^2 - 1) zeta(2)
        (3.0, 2.0, 1.2020569031595942 - 1),
    ],
)
def test_hurwitz_closed_forms(s: float, q: float, expect: float) -> None:
    assert Z.hurwitz_zeta(s, q)[0] == pytest.approx(expect, rel=1e-14)


def test_hurwitz_recurrence_and_derivative() -> None:
    s = np.array([1.01, 1.5, 1.95, 2.7, 7.0, 30.0])
    for q in (0.3, 1.0, 6.5, 11.9, 12.0, 40.0, 1e6):
        z0, z1 = Z.hurwitz_zeta(s, q), Z.hurwitz_zeta(s, q + 1)
        assert np.all(np.abs((z0 - z1) - q**-s) <= 1e-13 * z0)  # up to rounding of z0
        h = 1e-6
        _, dz = Z.hurwitz_zeta_ds(s, q)
        numeric = (Z.hurwitz_zeta(s + h, q) - Z.hurwitz_zeta(s - h, q)) / (2 * h)
        np.testing.assert_allclose(dz, numeric, rtol=1e-6, atol=1e-9 * np.abs(dz).max())


def test_hurwitz_matches_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    for s, q in [(1.001, 1), (1.95, 7), (2.5, 3.5), (40, 2), (3, 1e7)]:
        assert Z.hurwitz_zeta(s, q)[0] == pytest.approx(float(mpmath.zeta(s, q)), rel=1e-13)


# ---------------------------------------------------------------- power law
@pytest.mark.parametrize("alpha,xmin", [(1.7, 1), (2.0, 3), (2.5, 1), (3.2, 5)])
def test_power_law_recovers_alpha(alpha: float, xmin: int) -> None:
    rng = np.random.default_rng(int(alpha * 10))
    x = Z.sample_power_law(alpha, xmin, 20_000, rng)
    fit = Z.fit_power_law(x, xmin)
    assert abs(fit.alpha - alpha) < 4 * fit.sigma
    assert fit.n_tail == 20_000 and fit.ks_d < 0.02


def test_power_law_finds_xmin_above_a_body() -> None:
    rng = np.random.default_rng(3)
    tail = Z.sample_power_law(2.2, 20, 5000, rng)
    body = rng.integers(1, 20, 5000)  # flat below x_min: not a power law
    fit = Z.fit_power_law(np.concatenate([tail, body]))
    assert 15 <= fit.xmin <= 30 and abs(fit.alpha - 2.2) < 0.1


def test_sampler_matches_pmf() -> None:
    rng = np.random.default_rng(0)
    x = Z.sample_power_law(2.0, 2, 200_000, rng, table=50)  # exercises the far-tail formula
    pmf = np.array([2.0, 3.0, 4.0]) ** -2.0 / Z.hurwitz_zeta(2.0, 2.0)
    freq = np.array([(x == k).mean() for k in (2, 3, 4)])
    np.testing.assert_allclose(freq, pmf, atol=0.004)
    assert x.min() == 2 and (x >= 52).any()


def test_bootstrap_pvalue_separates_good_and_bad_fits() -> None:
    rng = np.random.default_rng(5)
    good = Z.sample_power_law(2.5, 1, 2000, rng)
    fit = Z.fit_power_law(good, 1)
    assert Z.bootstrap_pvalue(good, fit, 30, seed=1, fixed_xmin=True) > 0.05
    bad = rng.geometric(0.3, 2000)  # exponential tail
    fit_bad = Z.fit_power_law(bad, 1)
    assert Z.bootstrap_pvalue(bad, fit_bad, 30, seed=1, fixed_xmin=True) == 0.0


def test_power_law_errors() -> None:
    with pytest.raises(InputError):
        Z.fit_power_law(np.array([3, 3, 3]))
    with pytest.raises(InputError):
        Z.fit_power_law(np.array([1, 2, 3]), xmin=10)


@pytest.mark.parametrize("alpha,xmin", [(1.8, 1), (2.3, 4)])
def test_agrees_with_powerlaw_package(alpha: float, xmin: int) -> None:
    powerlaw = pytest.importorskip("powerlaw")
    rng = np.random.default_rng(7)
    x = np.concatenate(
        [Z.sample_power_law(alpha, xmin, 3000, rng), rng.integers(1, xmin + 1, 500 * (xmin > 1))]
    )
    ours = Z.fit_power_law(x)
    theirs = powerlaw.Fit(x, discrete=True, verbose=False)
    assert ours.xmin == theirs.xmin
    assert abs(ours.alpha - theirs.alpha) < 0.005
    assert abs(ours.alpha - alpha) < 5 * ours.sigma


def test_moby_dick_matches_powerlaw_package() -> None:
    words = moby_dick()
    fit = Z.fit_power_law(Z.read_frequencies(words))
    assert fit.xmin == 7 and fit.n_tail == 2958
    assert abs(fit.alpha - 1.9527) < 0.001  # powerlaw 2.0: 1.95272 (Clauset et al.: 1.95)
    assert fit.sigma == pytest.approx(0.0175, abs=1e-4)


# ---------------------------------------------------------------- Zipf and Heaps
def test_zipf_mle_and_least_squares_on_exact_power() -> None:
    r = np.arange(1, 5001, dtype=float)
    freqs = 1e7 * r**-1.2  # expected counts: the likelihood equation holds at s = 1.2
    s, se = Z.zipf_mle(freqs)
    assert s == pytest.approx(1.2, abs=1e-9) and se > 0
    s_ls, se_ls, r_max = Z.zipf_least_squares(freqs)
    assert s_ls == pytest.approx(1.2, abs=1e-9) and r_max == 5000


def test_zipf_mle_recovers_sampled_exponent() -> None:
    rng = np.random.default_rng(2)
    v, s_true = 2000, 1.1
    p = np.arange(1, v + 1, dtype=float) ** -s_true
    draws = rng.choice(v, 200_000, p=p / p.sum())
    freqs = np.bincount(draws, minlength=v)
    s, se = Z.zipf_mle(np.sort(freqs[freqs > 0])[::-1])
    assert abs(s - s_true) < 0.03  # ranks from the sample itself bias s a little


def test_heaps_fit_exact() -> None:
    n = np.geomspace(100, 1e6, 30)
    k, beta = Z.heaps_fit(np.stack([n, 7.0 * n**0.6], axis=1))
    assert k == pytest.approx(7.0) and beta == pytest.approx(0.6)


def test_read_frequencies(tmp_path: Path) -> None:
    p = tmp_path / "f.txt"
    p.write_text("5\n\nthe\t3\n  7 \n", encoding="utf-8")
    assert Z.read_frequencies(p).tolist() == [5, 3, 7]
    for bad, where in [("5\nabc\n", ":2:"), ("5\n0\n", ":2:"), ("x\t\n", ":1:"), ("\n\n", "empty")]:
        p.write_text(bad, encoding="utf-8")
        with pytest.raises(InputError, match=where):
            Z.read_frequencies(p)


# ---------------------------------------------------------------- command line
def test_cli_zipf_text(cli, tiny: Path) -> None:
    r = cli("zipf", tiny, "-n", "1", "-n", "2")
    assert r.exit_code == 0, r.stderr
    table = dict(line.split("\t", 1) for line in r.stdout.splitlines())
    assert table["tokens"] == "18\t17" and table["types"] == "9\t15"
    assert "heaps_beta" in table and "alpha" in table and "18 tokens" in r.stderr


def test_cli_zipf_counts_json(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    p = tmp_path / "f.txt"
    p.write_text("\n".join(map(str, Z.sample_power_law(2.0, 1, 3000, rng))) + "\n")
    r = cli("zipf", "--counts", p, "-f", "json", "--bootstrap", "5", "--xmin", "1")
    assert r.exit_code == 0, r.stderr
    (rec,) = json.loads(r.stdout)
    assert rec["xmin"] == 1 and abs(rec["alpha"] - 2.0) < 0.1 and rec["bootstrap"] == 5
    assert 0 <= rec["p_value"] <= 1 and "xmin:1|boot:5" in rec["signature"]


def test_cli_zipf_saved_counts(cli, tiny: Path, tmp_path: Path) -> None:
    cli("ngrams", tiny, "-n", "1", "-n", "2", "--save", tmp_path / "c.npz")
    r = cli("zipf", "--counts", tmp_path / "c.npz", "-n", "2", "-f", "jsonl")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["types"] == 15


def test_cli_moby_dick(cli) -> None:
    r = cli("zipf", "--counts", moby_dick(), "-f", "json")
    (rec,) = json.loads(r.stdout)
    assert rec["xmin"] == 7 and abs(rec["alpha"] - 1.9527) < 0.005 and rec["n_tail"] == 2958


def test_cli_plot(cli, tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "z.png"
    r = cli("zipf", tiny, "-n", "1", "-n", "2", "--plot", out, "-q")
    assert r.exit_code == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_without_matplotlib(
    cli, tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    r = cli("zipf", tiny, "--plot", tmp_path / "z.png")
    assert_one_line_error(r, 1)
    assert "pip install 'seqtool[plot]'" in r.stderr and not (tmp_path / "z.png").exists()


@pytest.mark.parametrize(
    "args,code",
    [
        (["--xmin", "0"], 2),
        (["--xmin", "abc"], 2),
        (["--bootstrap", "-1"], 2),
        (["-n", "0"], 2),
        (["-n", "40"], 2),
        (["--counts", "{tiny}"], 2),  # text files and --counts together
        (["--plot", "/no/such/dir/z.png"], 2),
    ],
)
def test_cli_zipf_bad_options(cli, tiny: Path, args: list[str], code: int) -> None:
    args = [a.format(tiny=tiny) for a in args]
    assert_one_line_error(cli("zipf", tiny, *args), code)


def test_cli_zipf_bad_counts(cli, tmp_path: Path, bad_inputs: dict[str, Path]) -> None:
    p = tmp_path / "f.txt"
    p.write_text("12\n7\nseven\n", encoding="utf-8")
    r = cli("zipf", "--counts", p)
    assert_one_line_error(r, 1)
    assert "f.txt:3:" in r.stderr
    assert_one_line_error(cli("zipf", "--counts", p, "-n", "2"), 2)
    p.write_text("5\n5\n5\n", encoding="utf-8")
    assert_one_line_error(cli("zipf", "--counts", p), 1)  # one distinct count: no fit
    for path in bad_inputs.values():
        assert_one_line_error(cli("zipf", path), 1)
        assert_one_line_error(cli("zipf", "--counts", path), 1)


def test_demo_step(tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqtool.cli.demo import STEPS, DemoContext, step_ngrams_zipf

    assert step_ngrams_zipf in [step for _, step in STEPS]
    ctx = DemoContext(tmp_path, tiny, "tiny", tiny, "tiny", 0)
    step_ngrams_zipf(ctx)
    made = dict(ctx.made)
    assert made["n-gram counts (seqtool zipf --counts ngrams.npz)"].is_file()
    assert "the 5" in capsys.readouterr().err
