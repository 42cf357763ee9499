"""The trained tasks, one module each: :mod:`seqtool.tasks.lm` (language models),
:mod:`seqtool.tasks.mt` (translation), and whatever trains next.

A task module holds its config dataclass, a class satisfying
:class:`seqtool.train.task.Task` that :func:`seqtool.train.runner.run_training`
trains, the artifact class a trained model is loaded back as, and a ``train_*``
function tying them together.  Tasks sit above :mod:`seqtool.decode` (they
translate and sample) and :mod:`seqtool.train` (the runner); the command line
sits above them.
"""
