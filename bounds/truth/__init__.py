"""Ground truth: closed-form TV cases, the latent catalogue and population truths.

Also the reference implementations (DIS², ATC, Clopper-Pearson) and the coverage study.
"""
