"""Scores: BLEU, chrF and TER (sacrebleu) and the d2l sentence BLEU."""
