"""The models seqtool trains: pure torch modules, each with a ``@dataclass`` config.

:data:`MODELS` maps a checkpoint ``kind`` to its module class and config class; the
CLI and the checkpoint loader look models up here.  A plain dict, nothing else.
"""
