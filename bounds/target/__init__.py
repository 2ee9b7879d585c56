"""Target-error certificates: the bound, alignment maps, heads and label-free terms.

The generalization bound, alignment maps, linear heads and probes, label-free terms (DIS²,
ATC) and the terms read from run folders.
"""
