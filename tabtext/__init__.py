"""tabtext: fast.ai's practical deep learning for tables and text on one small training core."""

__version__ = "0.1.0"
__all__ = ["__version__"]
