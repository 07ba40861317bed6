"""Synthetic data with a known truth: `croptfx generate`.

part1   Part-1 Parquet rows (pixel-years) from a field and phenology simulator
"""
