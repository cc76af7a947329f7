"""CNN image encoders: a uint8 image in, a grid of feature vectors [cells, dim] out.

``build_encoder`` is the compact CNN trained on the training split itself (the offline default);
``build_pretrained_encoder`` wraps a ``keras.applications`` network (ImageNet weights when online,
``weights=None`` in tests), and ``weights_record`` names the weights file it loaded, with its sha256.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import keras
import tensorflow as tf
from keras import layers, ops

from pipeline.errors import ParamsError
from pipeline.files import sha256_file


class Pretrained(NamedTuple):
    """A ``keras.applications`` network: its class, its module (for ``preprocess_input``), its input side, and
    the file its ImageNet weights without the top are cached as (``keras.utils.get_file``'s name)."""

    class_name: str
    module_name: str
    size: int
    weights_file: str


PRETRAINED = {
    "efficientnetb0": Pretrained("EfficientNetB0", "efficientnet", 224, "efficientnetb0_notop.h5"),
    "inceptionv3": Pretrained("InceptionV3", "inception_v3", 299,
                              "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "mobilenetv3small": Pretrained("MobileNetV3Small", "mobilenet_v3", 224,
                                   "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"),
}
KERAS_FALLBACK_HOME = Path("/tmp/.keras")  # where keras.utils.get_file caches when Keras' home is read-only


@keras.saving.register_keras_serializable(package="image_to_audio")
class AddCoords(layers.Layer):
    """CoordConv: append x and y coordinate channels in [-1, 1], so convolutions know where they are."""

    def call(self, x):
        shape = ops.shape(x)
        b, h, w = shape[0], shape[1], shape[2]
        yy = ops.broadcast_to(ops.reshape(ops.linspace(-1.0, 1.0, h), (1, h, 1, 1)), (b, h, w, 1))
        xx = ops.broadcast_to(ops.reshape(ops.linspace(-1.0, 1.0, w), (1, 1, w, 1)), (b, h, w, 1))
        return ops.concatenate([x, ops.cast(xx, x.dtype), ops.cast(yy, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 2)


@keras.saving.register_keras_serializable(package="image_to_audio")
class AddSaturation(layers.Layer):
    """Append max(RGB) - min(RGB): a fixed colour-space cue that separates coloured things from grey ground.

    In the prototype it made shape learning about ten times faster; it is harmless on real photos.
    """

    def call(self, x):
        return ops.concatenate([x, ops.max(x, axis=-1, keepdims=True) - ops.min(x, axis=-1, keepdims=True)], -1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


@keras.saving.register_keras_serializable(package="image_to_audio")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras' batch normalisation over the channels of an NHWC map, its training step in TensorFlow's fused
    kernel (one pass over the map instead of several); the same statistics, the same inference."""

    def call(self, inputs, training=None, mask=None):
        fused = training and self.trainable and mask is None and len(inputs.shape) == 4 and self.axis in (-1, 3)
        if not (fused and self.scale and self.center):
            return super().call(inputs, training=training, mask=mask)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            ops.cast(inputs, "float32"), ops.cast(self.gamma, "float32"), ops.cast(self.beta, "float32"),
            epsilon=self.epsilon)
        count = ops.cast(ops.prod(ops.shape(inputs)[:3]), "float32")
        variance = variance * (count - 1) / count  # the kernel's is unbiased; Keras' moving variance is not
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.assign(moving * self.momentum + ops.cast(batch, moving.dtype) * (1 - self.momentum))
        return ops.cast(outputs, inputs.dtype)


def _block(x, filters: int, strides: int, pool: bool, momentum: float, name: str):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = FusedBatchNormalization(momentum=momentum, name=f"{name}_norm")(x)
    x = layers.ReLU(name=f"{name}_relu")(x)
    return layers.MaxPooling2D(2, name=f"{name}_pool")(x) if pool else x


def build_encoder(image_size: int = 96, widths: tuple[int, ...] = (32, 48, 96, 128), feature_dim: int = 128,
                  norm_momentum: float = 0.9, name: str = "encoder") -> keras.Model:
    """The compact CNN: a stride-2 block, then blocks that each halve the side; saturation and coordinates
    as extra input channels.

    Output: [batch, (image_size / 2**len(widths))**2, feature_dim]. Batch-norm momentum is low (0.9)
    because an epoch has few steps: 0.99 left the moving statistics stale and misled early stopping.
    """
    image = keras.Input((image_size, image_size, 3), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale")(ops.cast(image, "float32"))
    x = AddSaturation(name="saturation")(x)
    x = AddCoords(name="coords_1")(x)
    for i, width in enumerate(widths):
        x = _block(x, width, 2 if i == 0 else 1, i > 0, norm_momentum, f"block_{i + 1}")
    x = layers.Conv2D(feature_dim, 1, activation="relu", name="project")(x)
    grid = layers.Reshape((-1, feature_dim), name="grid")(x)
    return keras.Model(image, grid, name=name)


def build_pretrained_encoder(kind: str, weights: str | None = "imagenet", name: str = "encoder") -> keras.Model:
    """A ``keras.applications`` network without its head, its last feature map as the grid (frozen)."""
    if kind not in PRETRAINED:
        raise ParamsError(f"featurize.encoder {kind!r} is unknown; expected 'cnn' or one of {sorted(PRETRAINED)}")
    class_name, module_name, size, _ = PRETRAINED[kind]
    backbone = getattr(keras.applications, class_name)(include_top=False, weights=weights,
                                                       input_shape=(size, size, 3))
    backbone.trainable = False
    preprocess = getattr(keras.applications, module_name).preprocess_input
    image = keras.Input((size, size, 3), dtype="uint8", name="image")
    x = backbone(preprocess(ops.cast(image, "float32")), training=False)
    grid = layers.Reshape((-1, x.shape[-1]), name="grid")(x)
    return keras.Model(image, grid, name=name)


def weights_record(params: dict[str, Any]) -> dict[str, str]:
    """``weights_file`` and ``weights_sha256`` of the file a ``keras.applications`` encoder's weights came from
    (``featurize`` params; call after building it): Keras' cached ImageNet file, or the file ``weights`` names.
    Empty for the trained cnn and for random weights. DVC does not see this file, so the runs log its hash."""
    weights = params.get("weights")
    if params["encoder"] not in PRETRAINED or weights is None:
        return {}
    if weights == "imagenet":
        from keras.src.backend.config import keras_home  # no public API; $KERAS_HOME, else ~/.keras

        home = Path(keras_home()).expanduser()
        cache = home if os.access(home, os.W_OK) else KERAS_FALLBACK_HOME  # as keras.utils.get_file chooses
        path = cache / "models" / PRETRAINED[params["encoder"]].weights_file
        if not path.is_file():
            raise FileNotFoundError(f"the ImageNet weights of {params['encoder']} are not at {path}, where "
                                    f"keras.applications caches them: build the encoder first")
    else:
        path = Path(weights)
    return {"weights_file": path.name, "weights_sha256": sha256_file(path)}


def image_size_of(encoder: keras.Model) -> int:
    """The square input side the encoder expects."""
    return int(encoder.input_shape[1])
