"""The models seqtool trains: pure torch modules, each with a ``@dataclass`` config.

:data:`MODELS` maps a checkpoint ``kind`` to its module class and config class; the
CLI and the checkpoint loader look models up here.  A plain dict, nothing else.
"""

import math
from dataclasses import fields
from typing import Any

from torch import nn

from seqtool.errors import CheckpointError, UsageError
from seqtool.models.rnn_lm import RNNLM, RNNLMConfig
from seqtool.models.seq2seq import GRUAttn, GRUAttnConfig
from seqtool.models.transformer_lm import TransformerLM, TransformerLMConfig
from seqtool.models.transformer_mt import TransformerMT, TransformerMTConfig

MODELS: dict[str, tuple[type, type]] = {
    "rnn_lm": (RNNLM, RNNLMConfig),
    "transformer_lm": (TransformerLM, TransformerLMConfig),
    "gru_attn_mt": (GRUAttn, GRUAttnConfig),
    "transformer_mt": (TransformerMT, TransformerMTConfig),
}


def build_model(kind: str, config: dict[str, Any]) -> nn.Module:
    """The model ``kind`` made from its config settings; impossible settings are a
    :class:`UsageError` naming the problem."""
    if kind not in MODELS:
        raise CheckpointError(f"unknown model kind {kind!r}")
    cls, cfg_cls = MODELS[kind]
    check_setting_types(kind, cfg_cls, config)
    try:
        return cls(cfg_cls(**config))  # type: ignore[no-any-return]
    except (TypeError, ValueError) as e:
        raise UsageError(f"impossible {kind} settings: {e}") from None


def check_setting_types(kind: str, cfg_cls: type, config: dict[str, Any]) -> None:
    """Refuse settings of the wrong type before a module sees them: a checkpoint's
    config is data, and torch's own errors for ``bidirectional = 1`` or ``dropout =
    nan`` are neither one line nor about the file.  Whole numbers for ``int``
    fields (not booleans), finite numbers for ``float`` ones, booleans for ``bool``."""
    for f in fields(cfg_cls):
        if f.name not in config:
            continue
        value, kind_of = config[f.name], str(getattr(f.type, "__name__", f.type))
        if kind_of == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif kind_of == "float":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value) and (f.name != "dropout" or 0 <= value < 1)
        elif kind_of == "bool":
            ok = isinstance(value, bool)
        else:
            continue
        if not ok:
            raise UsageError(
                f"impossible {kind} settings: `{f.name}` = {value!r} is not a valid {kind_of}"
            )


def model_settings(
    kind: str, name: str, defaults: dict[str, Any], overrides: dict[str, Any] | None
) -> dict[str, Any]:
    """The config of model ``name`` (of ``kind``): its ``defaults``, then the
    ``overrides`` that are set (not None); a setting the model does not take is a
    :class:`UsageError` naming it."""
    foreign = foreign_settings(kind, overrides or {})
    if foreign:
        raise UsageError(
            f"{as_names(foreign)}: not a setting of `model` {name}",
            hint=f"its sizes are {as_names(defaults)}",
        )
    cfg = dict(defaults)
    cfg.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return cfg


def foreign_settings(kind: str, settings: dict[str, Any]) -> list[str]:
    """The names in ``settings`` (ignoring None values) that the model ``kind`` does not take."""
    taken = {f.name for f in fields(MODELS[kind][1])}
    return [k for k, v in settings.items() if v is not None and k not in taken]


def as_names(names: Any) -> str:
    """``["ff_dim", "dim"]`` -> ``"`ff_dim` `dim`"``: parameter names as errors write them."""
    return " ".join(f"`{n}`" for n in names)
