"""Exact tokenization: offline encodings, safe block boundaries, block and stream counting."""
