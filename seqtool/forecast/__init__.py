"""Forecasting: reading series, the M4 metrics and the benchmark forecasts (numpy only)."""
