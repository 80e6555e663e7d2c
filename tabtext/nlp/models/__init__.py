"""The networks: the AWD-LSTM and its config (``awd_lstm``, ``sizes``), its
regularisers (``dropout``), softmaxes (``softmax``), the classifier head with concat
pooling (``classifier``) over BPT3C (``bpt3c``), vocabulary transfer of a pretrained
LM (``vocab_transfer``) and the prediction loop over documents (``inference``)."""
