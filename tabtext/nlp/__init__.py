"""Text classification by transfer learning: ULMFiT with an AWD-LSTM.

The layout, top down: ``finetune`` (CLI) -> ``finetuning.run_ulmfit`` -> ``stages``
(the LM and classifier stages, learners) -> ``recipe`` (config, presets, phase plan);
``loading``/``splits`` read texts, ``tokenize``/``text_rules``/``vocab``/``corpus`` turn
them into ids, ``loaders`` batch them, ``awd_lstm``/``classifier`` are the models,
``targets``/``tasks`` read labels per task and give each task its head, loss and
metrics, ``persistence`` writes and reads model directories, ``pretraining`` (CLI
``pretrain``) trains a general-domain LM and ``pretrained`` holds the shipped one.
"""

# Submodules load on first use (PEP 562), so that ``python -m tabtext.<pkg>.<cli>``
# runs the CLI module's first lines (which set OMP_WAIT_POLICY) before torch loads.
import importlib

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


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attr = _EXPORTS[name]
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
