"""Entropy models: the densities learned in training and the tables the range coder uses."""
