"""The project's names, each in one place: the decoders, the models they register as, the model files."""

DECODERS = ("lstm", "transformer")


def registered_name(decoder: str) -> str:
    """The MLflow registered model a decoder's versions go to."""
    return f"captioner-{decoder}"


MODELS = tuple(registered_name(decoder) for decoder in DECODERS)

ENCODER_FILE, DECODER_FILE = "encoder.keras", "decoder.keras"  # in the pipeline's model folders and in bundles
