"""Coding paths: real bitstreams for each model family."""
