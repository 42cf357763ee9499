"""Decoding: greedy and beam search for the translation models."""
