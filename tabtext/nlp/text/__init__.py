"""Text to numbers: reading files (``reading``), labels per task (``labels``), the
validation split (``splits``), the tokenizer and ULMFiT's rules (``tokenize``,
``rules``), the vocabulary (``vocab``), the cached numericalized corpus (``corpus``)
and the batch loaders, variable-length BPTT included (``loaders``)."""
