"""The default sizes and training settings of each model, per command.

Kept free of torch so that the command line can show them in ``--help``
without importing it; :mod:`seqtool.tasks.lm` and :mod:`seqtool.tasks.mt` use
them, and flags given on the command line override them.
"""

from __future__ import annotations

from typing import Any

# Language models: what learned fastest on two CPU cores in 90 CPU-seconds on
# The Time Machine (benchmarks/lm.py); scale up with flags on a GPU.  Fewer, wider
# layers and small batches (many steps) win at this budget.
_RNN = {"embed": 256, "hidden": 256, "layers": 2, "dropout": 0.1}
LM_MODEL: dict[str, dict[str, Any]] = {
    "transformer": {"dim": 128, "layers": 2, "heads": 4, "ff_dim": 0, "dropout": 0.0},
    "rnn": dict(_RNN),
    "gru": dict(_RNN),
    "lstm": dict(_RNN),
}
LM_DATA: dict[str, dict[str, int]] = {
    "transformer": {"seq_len": 128, "batch_size": 8},
    "rnn": {"seq_len": 64, "batch_size": 16},
    "gru": {"seq_len": 64, "batch_size": 16},
    "lstm": {"seq_len": 64, "batch_size": 16},
}
_RNN_TRAIN = {"lr": 3e-3, "warmup": 50, "weight_decay": 0.01, "clip": 1.0}
LM_TRAIN: dict[str, dict[str, Any]] = {
    "transformer": {"lr": 3e-3, "warmup": 50, "weight_decay": 0.1, "clip": 1.0},
    "rnn": dict(_RNN_TRAIN),
    "gru": dict(_RNN_TRAIN),
    "lstm": dict(_RNN_TRAIN),
}

# Translation: what gets far in a 20-minute run on two CPU cores on Multi30k
# (benchmarks/mt.py).
MT_MODEL: dict[str, dict[str, Any]] = {
    "transformer": {"layers": 3, "dim": 256, "heads": 4, "ff_dim": 1024, "dropout": 0.1},
    "gru-attn": {"embed": 256, "hidden": 256, "layers": 1, "dropout": 0.2, "bidirectional": True},
}
MT_TRAIN: dict[str, dict[str, Any]] = {
    "transformer": {"lr": 1.5e-3, "warmup": 200, "weight_decay": 0.01, "clip": 1.0},
    "gru-attn": {"lr": 3e-3, "warmup": 100, "weight_decay": 0.01, "clip": 1.0},
}

# Text classifiers (seqtool classify train): sizes per --model, then training settings.
# bow trains as fastText does: plain SGD on sparse gradients, the rate decayed
# linearly to 0, 5 epochs, no clipping; the others with AdamW (benchmarks/classify.py).
CLASSIFY_MODEL: dict[str, dict[str, Any]] = {
    "bow": {"dim": 100, "word_ngrams": 2, "buckets": 100_000, "batch_size": 64},
    "cnn": {"dim": 128, "maps": 100, "dropout": 0.5, "batch_size": 50},
    "birnn": {"dim": 128, "hidden": 128, "cell": "lstm", "pool": "max", "batch_size": 32},
    "transformer": {"dim": 128, "heads": 4, "layers": 2, "ff_dim": 256, "batch_size": 32},
    "nb": {"word_ngrams": 2, "buckets": 200_000, "batch_size": 32},
    "ensemble": {"members": "nb,birnn,birnn,cnn", "batch_size": 32},
}
# The numpy engine trains fastText's model in its linear form (the output layer held at a
# scaled identity): dimensions past the number of classes stay zero, so it stores 16.
BOW_NUMPY_DIM = 16
CLASSIFY_TRAIN: dict[str, dict[str, Any]] = {
    "bow": {
        "optimizer": "sgd",
        "lr": 8.0,
        "schedule": "linear",
        "min_lr": 0.0,
        "weight_decay": 0.0,
        "clip": 0.0,
        "epochs": 5,
    },
    "cnn": {"lr": 1e-3, "epochs": 10},
    "birnn": {"lr": 2e-3, "epochs": 10},
    "transformer": {"lr": 5e-4, "warmup": 100, "epochs": 10},
    "nb": {"lr": 2e-3, "epochs": 4, "eval_every": 100},
    "ensemble": {"lr": 2e-3, "epochs": 4, "eval_every": 100},
}
