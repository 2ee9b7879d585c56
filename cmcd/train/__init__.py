"""Training steps: encoders, losses, loops, fine-tuning and step-3 evaluation.

Augmentations, encoders, distillation losses, the SSL and distillation loops, fine-tuning,
step-3 evaluation, the classical baselines and the torchrun (DDP) path.
"""
