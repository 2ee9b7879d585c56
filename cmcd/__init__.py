"""Cross-modality contrastive distillation (CMCD): pre-train, distill, fine-tune."""

__version__ = "0.1.0"
