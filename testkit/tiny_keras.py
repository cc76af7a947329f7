"""The unit tests' tiny untrained Keras pieces: a seven-token vocabulary and decoders a few units wide."""

from pipeline.data.vocabulary import Vocabulary

VOCAB = Vocabulary(tokens=["", "[UNK]", "<start>", "<end>", "a", "red", "circle"], sequence_length=6)
SIZES = {"lstm": {"embed_dim": 8, "units": 16, "attention_units": 8, "dropout": 0.0, "positions": 4},
         "transformer": {"dim": 8, "heads": 2, "ff_dim": 16, "encoder_layers": 1, "decoder_layers": 1,
                         "dropout": 0.0}}
