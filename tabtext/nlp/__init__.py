"""Text classification by transfer learning: ULMFiT with an AWD-LSTM."""

from .text_classifier import TextClassifier

__all__ = ["TextClassifier"]
