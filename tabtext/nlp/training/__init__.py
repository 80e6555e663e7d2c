"""ULMFiT's recipe: the config and presets (``config``), the phase plan (gradual
unfreezing, discriminative LRs, STLR: ``phase_plan``), the learners, the stages
(``lm_stage``, ``classifier_stage``, ``self_training``) and their run directory, the
whole recipe (``ulmfit``), corpus-scale pretraining (``pretraining``,
``segment_plan``), text callbacks and each task's head, loss and metrics (``tasks``)."""
