"""Text classification by transfer learning: ULMFiT with an AWD-LSTM.

The layout, top down: ``finetune`` (CLI) -> ``finetuning.run_ulmfit`` -> ``stages``
(the LM and classifier stages, learners) -> ``recipe`` (config, presets, phase plan);
``loading``/``splits`` read texts, ``tokenize``/``text_rules``/``vocab``/``corpus`` turn
them into ids, ``loaders`` batch them, ``awd_lstm``/``classifier`` are the models,
``targets``/``tasks`` read labels per task and give each task its head, loss and
metrics, ``persistence`` writes and reads model directories, ``pretraining`` (CLI
``pretrain``) trains a general-domain LM and ``pretrained`` holds the shipped one.
"""

from .awd_lstm import AWDLSTM, AWDLSTMConfig, LanguageModel
from .classifier import TextClassifierModel
from .corpus import Corpus, numericalize_corpus
from .finetuning import run_ulmfit
from .loaders import ClassifierLoader, LMLoader
from .loading import TextDataset, load_texts
from .persistence import TextModel, load_lm, load_text_model, save_text_model
from .pretrained import available as available_pretrained
from .pretraining import PretrainConfig
from .recipe import PRESETS, ULMFiTConfig, make_config
from .splits import stratified_split
from .tasks import TextTask
from .text_classifier import TextClassifier, TextRegressor
from .tokenize import Tokenizer
from .vocab import Vocab

__all__ = [
    "AWDLSTM",
    "PRESETS",
    "AWDLSTMConfig",
    "ClassifierLoader",
    "Corpus",
    "LMLoader",
    "LanguageModel",
    "PretrainConfig",
    "TextClassifier",
    "TextClassifierModel",
    "TextDataset",
    "TextModel",
    "TextRegressor",
    "TextTask",
    "Tokenizer",
    "ULMFiTConfig",
    "Vocab",
    "available_pretrained",
    "load_lm",
    "load_text_model",
    "load_texts",
    "make_config",
    "numericalize_corpus",
    "run_ulmfit",
    "save_text_model",
    "stratified_split",
]
