"""Captioning models: a CNN encoder over a feature grid, attention LSTM and Transformer decoders."""

PRECISIONS = ("float32", "float16")  # what a logged captioner loads as (its model config ``precision``)
RUNTIMES = ("keras", "lite")  # what runs a float32 captioner: Keras, or its exact float32 TFLite export
