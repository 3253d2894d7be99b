"""The LSTM melody model: one builder, two graphs that share one set of weights.

* the sequence model (training, evaluation): tokens int32 [batch, time] ->
  embedding -> stacked LSTMs (dropout between them) -> logits [batch, time, 130];
* the step model (export, the box): batch 1, one token int32 [1, 1] and an
  explicit h/c state per layer in, logits [1, 130] and the new states out.

``inputs`` picks what the LSTM reads at each step: "token" (the token's embedding
only: the course's model, kept as a baseline) or "lookback" (also the features of
device/core/features.py: the tokens one, two, four and eight bars back through a small embedding of
their own, the bar position and the repeat flags, concatenated to the token's
embedding). With "lookback" both graphs take those features as extra inputs, named
as in ``device.core.features.INPUTS``: [batch, time, ...] for the sequence model, [1, ...]
for the step model.

Each LSTM layer is ``RNN(LSTMCell)``. The step model calls that same cell once
per step: exactly what ``LSTM(unroll=True)`` computes for a one-step sequence
(no WHILE loop in the exported graph), without a second copy of the weights, so
training the sequence model trains the step model too.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from device.core import encoding, features

INPUT_KINDS = ("token", "lookback")
TOKEN_NAME = "token"
LOGITS_NAME = "logits"

if TYPE_CHECKING:  # keras is imported when a model is built, so shapes load without TensorFlow
    import keras


@dataclass(frozen=True)
class ModelShape:
    """Model shape. ``units``: LSTM width per layer; ``embedding``: token vector size; ``dropout``: 0..1;
    ``inputs``: one of INPUT_KINDS; ``lookback_embedding``: vector size of each lookback token."""

    vocab_size: int = encoding.VOCAB_SIZE
    embedding: int = 256
    layers: int = 2
    units: int = 256
    dropout: float = 0.1
    inputs: str = "lookback"
    lookback_embedding: int = 32

    def __post_init__(self):
        if self.vocab_size != encoding.VOCAB_SIZE:
            raise ValueError(f"vocab_size {self.vocab_size} differs from the encoding's {encoding.VOCAB_SIZE}")
        if self.layers < 1 or self.units < 1 or self.embedding < 1:
            raise ValueError(f"layers, units and embedding must be >= 1 (got {self.layers}, {self.units}, "
                             f"{self.embedding})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout} is outside 0..1")
        if self.inputs not in INPUT_KINDS:
            raise ValueError(f"inputs {self.inputs!r} is not one of {list(INPUT_KINDS)}")
        if self.lookback_embedding < 1:
            raise ValueError(f"lookback_embedding must be >= 1 (got {self.lookback_embedding})")

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The model's inputs beyond the token (device.core.features.FEATURES, or none)."""
        return features.FEATURES if self.inputs == "lookback" else ()

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ModelShape:
        """Build from a dict; unknown keys raise ValueError naming them. A config written before ``inputs``
        existed is the token-only model."""
        check_keys(cls, data, "model config")
        return cls(**{"inputs": "token", **data})

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> ModelShape:
        return cls.from_json(json.loads(Path(path).read_text()))


def check_keys(config_class, data: dict, what: str) -> None:
    """Raise ValueError naming the keys of ``data`` that are not fields of the dataclass ``config_class``."""
    unknown = sorted(set(data) - {f.name for f in fields(config_class)})
    if unknown:
        raise ValueError(f"unknown {what} keys: {unknown}")


def state_names(layer: int) -> tuple[str, str, str, str]:
    """Input and output tensor names of layer ``layer`` (1-based): h, c, h_out, c_out."""
    return f"h{layer}", f"c{layer}", f"h{layer}_out", f"c{layer}_out"


class Models(NamedTuple):
    """The two graphs of one model; they share every weight."""

    sequence: keras.Model
    step: keras.Model


def build_models(shape: ModelShape) -> Models:
    """Build the sequence model and the step model of ``shape``."""
    import keras  # lazy: TensorFlow and Keras take over a second to import; shapes and names never need them

    embed = keras.layers.Embedding(shape.vocab_size, shape.embedding, name="embedding")
    lstms = [
        keras.layers.RNN(keras.layers.LSTMCell(shape.units, name=f"lstm{i + 1}_cell"), return_sequences=True,
                         name=f"lstm{i + 1}")
        for i in range(shape.layers)
    ]
    drops = [keras.layers.Dropout(shape.dropout, name=f"dropout{i + 1}") for i in range(shape.layers)]
    head = keras.layers.Dense(shape.vocab_size, name="logits")
    lookback_embed = keras.layers.Embedding(features.LOOKBACK_VOCAB, shape.lookback_embedding,
                                            name="lookback_embedding")
    lookback_width = len(features.LOOKBACK_BARS) * shape.lookback_embedding

    def feature_inputs(batch_shape):
        return {name: keras.Input(batch_shape=batch_shape + features.INPUTS[name][0], name=name,
                                  dtype=features.INPUTS[name][1]) for name in shape.feature_names}

    def lstm_input(x, extra, time_shape):
        if not extra:
            return x
        lookback = keras.layers.Reshape(time_shape + (lookback_width,))(lookback_embed(extra["lookback"]))
        return keras.layers.Concatenate(axis=-1)([x, lookback, extra["bar_position"], extra["repeats"]])

    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    extra = feature_inputs((None, None))
    x = lstm_input(embed(tokens), extra, (-1,))
    for lstm, drop in zip(lstms, drops, strict=True):
        x = drop(lstm(x))
    sequence = keras.Model({"tokens": tokens, **extra} if extra else tokens, head(x), name="sequence")

    token = keras.Input(batch_shape=(1, 1), dtype="int32", name=TOKEN_NAME)
    extra = feature_inputs((1,))
    x = lstm_input(embed(token)[:, 0, :], extra, ())
    inputs, outputs = {TOKEN_NAME: token, **extra}, {}
    for index, lstm in enumerate(lstms, start=1):
        h_name, c_name, h_out, c_out = state_names(index)
        h = keras.Input(batch_shape=(1, shape.units), dtype="float32", name=h_name)
        c = keras.Input(batch_shape=(1, shape.units), dtype="float32", name=c_name)
        inputs.update({h_name: h, c_name: c})
        x, (h_new, c_new) = lstm.cell(x, [h, c])
        outputs[h_out] = keras.layers.Identity(name=h_out)(h_new)
        outputs[c_out] = keras.layers.Identity(name=c_out)(c_new)
    outputs = {LOGITS_NAME: head(x), **outputs}
    step = keras.Model(inputs, outputs, name="step")
    return Models(sequence, step)


def zero_state(shape: ModelShape) -> dict:
    """The step model's initial state: zeros [1, units] for each h and c, keyed by input name."""
    state = {}
    for index in range(1, shape.layers + 1):
        h_name, c_name, _, _ = state_names(index)
        state[h_name] = np.zeros((1, shape.units), np.float32)
        state[c_name] = np.zeros((1, shape.units), np.float32)
    return state


def widen_to_lookback(token_model: keras.Model, lookback: Models) -> None:
    """Copy a token-only sequence model's weights into a lookback model of the same shape (a warm start).

    The first LSTM layer's kernel rows for the new inputs are zero, so the lookback model starts out
    predicting exactly as the token-only one did; training then learns to use the bars before.
    """
    width = token_model.get_layer("embedding").output_dim
    for layer in lookback.sequence.layers:
        if not layer.weights or layer.name == "lookback_embedding":
            continue
        source = token_model.get_layer(layer.name).get_weights()
        if layer.name == "lstm1":
            kernel = np.zeros(layer.get_weights()[0].shape, np.float32)
            kernel[:width] = source[0]
            source = [kernel, *source[1:]]
        layer.set_weights(source)
