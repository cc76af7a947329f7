"""Captioning models: a CNN encoder over a feature grid, attention LSTM and Transformer decoders."""
