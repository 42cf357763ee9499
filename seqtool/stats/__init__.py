"""N-gram statistics and Zipf / power-law fitting; imports neither torch, typer nor rich.

* :mod:`seqtool.stats.ngrams`: streaming, vectorised n-gram counts (save, load, merge);
* :mod:`seqtool.stats.zipf`: rank-frequency Zipf exponents, the Clauset-Shalizi-Newman
  discrete power-law fit, Heaps' law.
"""
