"""The models seqtool trains: pure torch modules, each with a ``@dataclass`` config.

:data:`MODELS` maps a checkpoint ``kind`` to its module class and config class; the
CLI and the checkpoint loader look models up here.  A plain dict, nothing else.
"""

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
