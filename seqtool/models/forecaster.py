"""Global forecasting models: a window of ``context`` values in, the next values out.

One model serves every series: each window is divided by its own level (the
mean absolute value of the window, or its last value), so series of different
magnitudes share the weights, and the predictions are multiplied back.  The
model predicts ``outputs`` values at once: the whole horizon (the *direct*
strategy) or one value, fed its own predictions for the steps after the first
(the *recursive* strategy, the k-step experiment of d2l's sequence-model
chapter); :meth:`Forecaster.forecast` does either.

Architectures (``arch``):

* ``mlp``: N-BEATS' generic architecture (Oreshkin et al. 2020): ``blocks``
  blocks of ``layers`` fully connected layers; each block reads what the
  previous ones could not explain (doubly residual stacking: it subtracts its
  *backcast* of the window) and adds its part of the forecast;
* ``rnn``, ``gru``, ``lstm``: the d2l autoregressive model: the window, one value
  per step, through a recurrent network; the last hidden state predicts;
* ``transformer``: the window cut into patches of ``patch`` values (one token
  each, PatchTST-style; ``patch=1`` is one value per token), learned positions,
  a pre-norm encoder, and a linear head over all token outputs.

``forward(x, targets=None) -> (pred, loss)`` as every seqtool model: ``x`` is
``(B, context)`` raw values, ``pred`` ``(B, outputs)`` raw values, ``loss`` the
mean ``loss`` (``mae``/``mse`` on the level-scaled values, or ``smape``) when
``targets`` are given.

Example::

    >>> m = Forecaster(ForecasterConfig(arch="gru", context=8, outputs=1, hidden=16, layers=1))
    >>> pred, loss = m(torch.ones(2, 8), targets=torch.ones(2, 1))
    >>> pred.shape, m.forecast(torch.ones(2, 8), horizon=5).shape
    (torch.Size([2, 1]), torch.Size([2, 5]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

ARCHS = ("mlp", "rnn", "gru", "lstm", "transformer")
SCALES = ("mean", "last", "none")
LOSSES = ("mae", "mse", "smape")


@dataclass
class ForecasterConfig:
    arch: str = "mlp"  # mlp | rnn | gru | lstm | transformer
    context: int = 48  # values in a window
    outputs: int = 1  # values predicted per call: the horizon (direct) or 1 (recursive)
    hidden: int = 256  # layer width (transformer: the model dimension)
    layers: int = 4  # mlp: layers per block; rnn: stacked layers; transformer: encoder layers
    blocks: int = 3  # mlp: residual blocks
    heads: int = 4  # transformer
    patch: int = 1  # transformer: values per token
    dropout: float = 0.0
    scale: str = "mean"  # mean | last | none: what each window is divided by
    loss: str = "mae"  # mae | mse on the scaled values, or smape on the values

    def __post_init__(self) -> None:
        for name, allowed in (("arch", ARCHS), ("scale", SCALES), ("loss", LOSSES)):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}"
                )
        for name in ("context", "outputs", "hidden", "layers", "blocks", "heads", "patch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout}")
        if self.arch == "transformer":
            if self.context % self.patch:
                raise ValueError(
                    f"context ({self.context}) must be a multiple of patch ({self.patch})"
                )
            if self.hidden % self.heads:
                raise ValueError(
                    f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})"
                )


class _Block(nn.Module):
    """One N-BEATS generic block: an MLP with a backcast and a forecast head."""

    def __init__(self, cfg: ForecasterConfig, backcast: bool = True) -> None:
        super().__init__()
        dims = [cfg.context] + [cfg.hidden] * cfg.layers
        fc: list[nn.Module] = []
        for a, b in zip(dims, dims[1:]):
            fc += [nn.Linear(a, b), nn.ReLU()]
            if cfg.dropout:
                fc.append(nn.Dropout(cfg.dropout))
        self.fc = nn.Sequential(*fc)
        # the last block's backcast would go unused (and trouble DDP): it has none
        self.backcast = nn.Linear(cfg.hidden, cfg.context) if backcast else None
        self.forecast = nn.Linear(cfg.hidden, cfg.outputs)

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor]:
        h = self.fc(x)  # (B, hidden)
        return (self.backcast(h) if self.backcast is not None else None), self.forecast(h)


class _MLP(nn.Module):
    def __init__(self, cfg: ForecasterConfig) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            _Block(cfg, backcast=i < cfg.blocks - 1) for i in range(cfg.blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        residual, out = x, 0.0
        for block in self.blocks:
            back, fore = block(residual)
            if back is not None:
                residual = residual - back
            out = out + fore
        return out  # type: ignore[return-value]


class _RNN(nn.Module):
    def __init__(self, cfg: ForecasterConfig) -> None:
        super().__init__()
        cell = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[cfg.arch]
        self.rnn = cell(
            1,
            cfg.hidden,
            num_layers=cfg.layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.layers > 1 else 0.0,
        )
        self.head = nn.Linear(cfg.hidden, cfg.outputs)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x.unsqueeze(-1))  # (B, T, hidden)
        return self.head(out[:, -1])  # type: ignore[no-any-return]


class _Transformer(nn.Module):
    def __init__(self, cfg: ForecasterConfig) -> None:
        super().__init__()
        self.patch = cfg.patch
        tokens = cfg.context // cfg.patch
        self.embed = nn.Linear(cfg.patch, cfg.hidden)
        self.pos = nn.Parameter(torch.randn(tokens, cfg.hidden) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.hidden,
            cfg.heads,
            dim_feedforward=4 * cfg.hidden,
            dropout=cfg.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.hidden)
        self.head = nn.Linear(tokens * cfg.hidden, cfg.outputs)

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        tok = self.embed(x.reshape(b, -1, self.patch)) + self.pos  # (B, T/p, hidden)
        h = self.norm(self.encoder(tok))
        return self.head(h.reshape(b, -1))  # type: ignore[no-any-return]


class Forecaster(nn.Module):
    """See the module docstring."""

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        if config.arch == "mlp":
            self.net: nn.Module = _MLP(config)
        elif config.arch == "transformer":
            self.net = _Transformer(config)
        else:
            self.net = _RNN(config)

    def level(self, x: Tensor) -> Tensor:
        """What each window is divided by, ``(B, 1)``; 1 where it would be 0."""
        if self.config.scale == "none":
            return torch.ones_like(x[:, :1])
        lvl = x[:, -1:].abs() if self.config.scale == "last" else x.abs().mean(1, keepdim=True)
        return torch.where(lvl > 0, lvl, torch.ones_like(lvl))

    def forward(self, x: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        c = self.config.context
        if x.shape[1] != c:
            raise ValueError(f"windows must hold context={c} values, not {x.shape[1]}")
        lvl = self.level(x)  # (B, 1)
        # centred too: the net sees and predicts deviations from the level, so that
        # it does not have to find small changes on top of a constant 1
        scaled = self.net(x / lvl - 1.0) + 1.0  # (B, outputs)
        pred = scaled * lvl
        if targets is None:
            return pred, None
        if self.config.loss == "smape":
            den = (pred.abs() + targets.abs()).clamp_min(1e-8)
            loss = (2.0 * (pred - targets).abs() / den).mean()
        elif self.config.loss == "mse":
            loss = ((scaled - targets / lvl) ** 2).mean()
        else:
            loss = (scaled - targets / lvl).abs().mean()
        return pred, loss

    @torch.no_grad()
    def forecast(self, x: Tensor, horizon: int) -> Tensor:
        """``(B, horizon)`` predictions after the windows ``x`` (``(B, >= context)``):
        one call when ``outputs >= horizon``, else each call's predictions are
        appended to the window for the next (recursive forecasting)."""
        c, k = self.config.context, self.config.outputs
        window = x[:, -c:]
        parts: list[Tensor] = []
        done = 0
        while done < horizon:
            pred, _ = self(window)
            parts.append(pred)
            done += k
            if done < horizon:
                window = torch.cat([window, pred], dim=1)[:, -c:]
        return torch.cat(parts, dim=1)[:, :horizon]
