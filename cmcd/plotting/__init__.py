"""Figures: plot functions, the data behind each figure and the notebook runner."""
