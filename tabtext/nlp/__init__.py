"""Text classification by transfer learning: ULMFiT with an AWD-LSTM.

The layout, top down: ``finetune`` (CLI) -> ``finetuning.run_ulmfit`` -> ``stages``
(the LM and classifier stages, learners) -> ``recipe`` (config, presets, phase plan);
``loading``/``splits`` read texts, ``tokenize``/``text_rules``/``vocab``/``corpus`` turn
them into ids, ``loaders`` batch them, ``awd_lstm``/``classifier`` are the models,
``targets``/``tasks`` read labels per task and give each task its head, loss and
metrics, ``persistence`` writes and reads model directories, ``pretraining`` (CLI
``pretrain``) trains a general-domain LM and ``pretrained`` holds the shipped one.
"""

# Submodules load on first use (PEP 562): see tabtext._lazy.
from .._lazy import lazy_exports

_EXPORTS = {
    "AWDLSTM": (".awd_lstm", "AWDLSTM"),
    "AWDLSTMConfig": (".awd_lstm", "AWDLSTMConfig"),
    "LanguageModel": (".awd_lstm", "LanguageModel"),
    "TextClassifierModel": (".classifier", "TextClassifierModel"),
    "Corpus": (".corpus", "Corpus"),
    "numericalize_corpus": (".corpus", "numericalize_corpus"),
    "run_ulmfit": (".finetuning", "run_ulmfit"),
    "ClassifierLoader": (".loaders", "ClassifierLoader"),
    "LMLoader": (".loaders", "LMLoader"),
    "TextDataset": (".loading", "TextDataset"),
    "load_texts": (".loading", "load_texts"),
    "encode_texts": (".onnx_export", "encode_texts"),
    "export_onnx": (".onnx_export", "export_onnx"),
    "TextModel": (".persistence", "TextModel"),
    "load_lm": (".persistence", "load_lm"),
    "load_text_model": (".persistence", "load_text_model"),
    "save_text_model": (".persistence", "save_text_model"),
    "available_pretrained": (".pretrained", "available"),
    "PretrainConfig": (".pretraining", "PretrainConfig"),
    "PRESETS": (".recipe", "PRESETS"),
    "ULMFiTConfig": (".recipe", "ULMFiTConfig"),
    "make_config": (".recipe", "make_config"),
    "stratified_split": (".splits", "stratified_split"),
    "TextTask": (".tasks", "TextTask"),
    "TextClassifier": (".text_classifier", "TextClassifier"),
    "TextRegressor": (".text_classifier", "TextRegressor"),
    "Tokenizer": (".tokenize", "Tokenizer"),
    "Vocab": (".vocab", "Vocab"),
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
