"""Text classification by transfer learning: ULMFiT with an AWD-LSTM.

The layout, top down: the entry points ``finetune``, ``pretrain``, ``predict`` and
``export`` (``python -m``) parse flags and call the library; ``api/`` is the public
face (the ``TextClassifier``/``TextRegressor`` estimators, model directories,
explanations, ONNX export); ``training/`` holds the recipe (``ulmfit.run_ulmfit`` ->
``lm_stage``, ``classifier_stage``, ``self_training`` -> ``phase_plan``: gradual
unfreezing, discriminative LRs, STLR) and corpus-scale ``pretraining``; ``models/``
the AWD-LSTM, the classifier head with BPT3C and vocabulary transfer; ``text/``
reads, tokenizes, numericalizes and batches texts; ``pretrained/`` holds the shipped
LM. ``docs/architecture.md`` maps each technique to its module.
"""

# Submodules load on first use (PEP 562): see tabtext._lazy.
from .._lazy import lazy_exports

_EXPORTS = {
    "AWDLSTM": (".models.awd_lstm", "AWDLSTM"),
    "AWDLSTMConfig": (".models.awd_lstm", "AWDLSTMConfig"),
    "LanguageModel": (".models.awd_lstm", "LanguageModel"),
    "TextClassifierModel": (".models.classifier", "TextClassifierModel"),
    "Corpus": (".text.corpus", "Corpus"),
    "numericalize_corpus": (".text.corpus", "numericalize_corpus"),
    "run_ulmfit": (".training.ulmfit", "run_ulmfit"),
    "ClassifierLoader": (".text.loaders", "ClassifierLoader"),
    "LMLoader": (".text.loaders", "LMLoader"),
    "TextDataset": (".text.reading", "TextDataset"),
    "load_texts": (".text.reading", "load_texts"),
    "encode_texts": (".api.onnx_export", "encode_texts"),
    "export_onnx": (".api.onnx_export", "export_onnx"),
    "TextModel": (".api.persistence", "TextModel"),
    "load_lm": (".models.lm_dir", "load_lm"),
    "load_text_model": (".api.persistence", "load_text_model"),
    "save_text_model": (".api.persistence", "save_text_model"),
    "available_pretrained": (".pretrained", "available"),
    "PretrainConfig": (".training.pretraining", "PretrainConfig"),
    "PRESETS": (".training.config", "PRESETS"),
    "ULMFiTConfig": (".training.config", "ULMFiTConfig"),
    "make_config": (".training.config", "make_config"),
    "stratified_split": (".text.splits", "stratified_split"),
    "TextTask": (".training.tasks", "TextTask"),
    "TextClassifier": (".api.estimator", "TextClassifier"),
    "TextRegressor": (".api.estimator", "TextRegressor"),
    "Tokenizer": (".text.tokenize", "Tokenizer"),
    "Vocab": (".text.vocab", "Vocab"),
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
