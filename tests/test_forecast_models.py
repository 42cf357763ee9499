"""The forecasting models: shapes, scaling, recursive forecasts, config checks."""

from __future__ import annotations

import pytest
import torch

from seqtool.models.forecaster import ARCHS, Forecaster, ForecasterConfig


@pytest.mark.parametrize("arch", ARCHS)
def test_every_arch_maps_windows_to_outputs(arch: str) -> None:
    torch.manual_seed(0)
    cfg = ForecasterConfig(
        arch=arch, context=8, outputs=3, hidden=16, layers=1, blocks=2, heads=2, patch=2
    )
    m = Forecaster(cfg)
    x = torch.rand(5, 8) + 1
    pred, loss = m(x, targets=torch.rand(5, 3))
    assert pred.shape == (5, 3) and loss is not None and loss.ndim == 0
    loss.backward()
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)
    assert m(x)[1] is None


def test_windows_are_scaled_by_their_level() -> None:
    """A series and the same series 1000 times larger get proportional forecasts."""
    torch.manual_seed(0)
    m = Forecaster(ForecasterConfig(arch="mlp", context=6, outputs=2, hidden=8, layers=2)).eval()
    x = torch.rand(3, 6) + 0.5
    small, _ = m(x)
    large, _ = m(1000 * x)
    torch.testing.assert_close(large, 1000 * small, rtol=1e-4, atol=1e-4)


def test_recursive_forecast_feeds_predictions_back() -> None:
    torch.manual_seed(0)
    m = Forecaster(ForecasterConfig(arch="gru", context=4, outputs=1, hidden=8, layers=1)).eval()
    x = torch.rand(2, 10) + 1
    fc = m.forecast(x, horizon=3)
    w = x[:, -4:]
    for k in range(3):
        step, _ = m(w)
        torch.testing.assert_close(fc[:, k : k + 1], step)
        w = torch.cat([w[:, 1:], step], dim=1)


def test_direct_forecast_is_one_call_cut_to_the_horizon() -> None:
    m = Forecaster(ForecasterConfig(arch="mlp", context=4, outputs=5, hidden=8)).eval()
    x = torch.rand(2, 4) + 1
    torch.testing.assert_close(m.forecast(x, 3), m(x)[0][:, :3])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"arch": "cnn"}, "arch must be one of"),
        ({"context": 0}, "context must be >= 1"),
        (
            {"arch": "transformer", "context": 10, "patch": 3},
            r"context \(10\) must be a multiple of patch",
        ),
        ({"scale": "max"}, "scale must be one of"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_impossible_configs(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ForecasterConfig(**settings)


def test_wrong_window_length_is_refused() -> None:
    m = Forecaster(ForecasterConfig(context=4, hidden=8))
    with pytest.raises(ValueError, match="windows must hold context=4 values, not 5"):
        m(torch.ones(1, 5))
