"""Choosing the next token from logits: temperature, masks, the musical controls, seeded randomness.

numpy only. Temperature and masks live here, not in the model graph. The musical controls of a
ControlState act on the model's distribution before the draw, never on the note afterwards:

- the contract's pitch range: note-ons outside it are never chosen (as trained);
- register (centre, width) and scale lock (scale, root, strictness): pitches outside the register
  are excluded; out-of-scale pitches lose ``STRICTNESS_NATS * s / (1 - s)`` of log-probability
  (strictness s; at 1 they are excluded). Both then renormalise over the pitch tokens, so the
  probabilities of a new note, of holding and of a rest stay what the model said;
- density d: adds ``DENSITY_NATS * (2d - 1)`` to every note-on's log-probability (0.5: none), so the
  odds of a new note against holding or resting shrink (d < 0.5) or grow (d > 0.5). While nothing
  sounds a NOTE_OFF would be redundant; under density it is played as NO_EVENT, which means the same.

- harmony h (with a ``Harmony``: the chord and key at the step, device/core/chords.py): on the beat, pitches
  that are not tones of the chord lose ``HARMONY_NATS * h / (1 - h)`` of log-probability; off the beat,
  pitches that are neither in the key nor in the chord lose as much (at 1 they are excluded, unless that
  leaves no pitch), and the key's tones outside the chord (passing tones) lose ``PASSING_NATS * h``: they
  stay, less likely than the chord's. Renormalised over the pitch tokens like the scale lock; 0, or no
  harmony, leaves them;

These act on the tempered log-probabilities (after ``/ temperature``), so a strictness or density
means the same at every temperature. Temperature 0 is greedy: the most likely token under the
controls at temperature 1.

Last, the tail cut: a token whose probability is under ``tail_cut`` times the likeliest token's is never
drawn (min-p sampling, Nguyen et al. 2024; the tail a neural model gives its unlikeliest choices is where its
errors are, Holtzman et al. 2020). The shipped folk model overestimates how often a tune leaves its scale,
more the longer the tune has kept to it, so drawn from the whole distribution its tunes stray far more
often than real ones (the figures: models/README.md, "Now"). The cut is
relative to the likeliest token, so it means the same at every temperature. With ``tail_cut`` 0 and every
control at its neutral default the result is bit for bit what the sampler gave before these controls existed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from device.core import encoding
from device.core.chords import Harmony
from device.core.scales import CHROMATIC, in_scale, scale_name
from device.engine.controlstate import ControlState
from device.engine.declaration import DEFAULTS

STRICTNESS_NATS = 1.0  # log-probability an out-of-scale pitch loses at strictness 0.5 (x 0.37)
HARMONY_NATS = 1.0  # log-probability a pitch off the chord (on the beat) or key loses at harmony 0.5 (x 0.37)
PASSING_NATS = 2.0  # log-probability a passing tone (off the beat, in the key, not the chord) loses at harmony 1
DENSITY_NATS = 3.0  # log-odds a new note gains at density 1, loses at density 0 (x 20, x 1/20)
LOOP_STREAM = 1  # déjà-vu decisions use their own random stream, so the token draws stay today's
DEFAULT_TAIL_CUT = 0.005  # share of the likeliest token's probability under which a token is never drawn


class Sampler:
    """Samples tokens from logits with seeded numpy Generators.

    ``pitch_range`` (lo, hi), inclusive MIDI pitches (the contract's): note-ons outside it are
    never chosen; NOTE_OFF and NO_EVENT are never masked. ``tail_cut`` 0..<1: tokens under that share of
    the likeliest token's probability are never drawn (0: the whole distribution). ``rng`` gives the uniform
    draws that choose tokens; ``loop_rng`` (its own stream from the same seed) the déjà-vu replay decisions.
    """

    def __init__(self, seed: int | None = None, pitch_range: tuple[int, int] | None = None,
                 tail_cut: float = DEFAULT_TAIL_CUT):
        if not 0 <= tail_cut < 1:
            raise ValueError(f"tail_cut must be 0..1 (below 1), got {tail_cut}")
        self.pitch_range, self.tail_cut = pitch_range, float(tail_cut)
        self._mask = np.zeros(encoding.VOCAB_SIZE, dtype=bool)  # True = excluded
        self._low, self._high = 0, encoding.NUM_PITCHES - 1
        if pitch_range is not None:
            low, high = (int(v) for v in pitch_range)
            if not 0 <= low <= high < encoding.NUM_PITCHES:
                raise ValueError(f"pitch_range {pitch_range} is not within 0..127 with low <= high")
            self._mask[:low] = True
            self._mask[high + 1 : encoding.NUM_PITCHES] = True
            self._low, self._high = low, high
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Start fresh random streams (token draws and déjà-vu decisions) from ``seed``."""
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.loop_rng = np.random.default_rng(None if seed is None else [LOOP_STREAM, seed])

    def draw(self) -> float:
        """The next uniform draw 0..1 that chooses a token (from ``rng``)."""
        return float(self.rng.random())

    def replay(self, probability: float) -> bool:
        """True with ``probability`` 0..1 (from ``loop_rng``): déjà-vu replays this step."""
        return bool(self.loop_rng.random() < probability)

    def probabilities(self, logits: np.ndarray, controls: ControlState, sounding: bool | None = None,
                      notes_only: bool = False, harmony: Harmony | None = None) -> np.ndarray:
        """The distribution the next token is drawn from (float64, sums to 1); temperature > 0.

        ``sounding``: whether a note sounds now (None: unknown; density then leaves NOTE_OFF alone).
        ``notes_only``: only note-ons may be chosen (a melody's opening note), in the proportions the model gives.
        ``harmony``: the chord, key and bar step of the step the token plays on (None: no chords).
        """
        scaled = self._controlled(self._masked(logits, notes_only) / float(controls.temperature), controls, sounding,
                                  harmony)
        scaled -= scaled.max()  # stable: the largest term becomes exp(0) = 1
        weights = cut_tail(np.exp(scaled), self.tail_cut)
        return weights / weights.sum()

    def sample(self, logits: np.ndarray, controls: ControlState, sounding: bool | None = None,
               notes_only: bool = False, harmony: Harmony | None = None) -> int:
        """Choose a token 0..129 under ``controls``: temperature 0 is greedy, > 0 samples, < 0 or NaN raises."""
        check_temperature(controls.temperature)
        draw = self.draw() if controls.temperature > 0 else 0.0
        return self.choose(logits, controls, draw, sounding, notes_only, harmony)

    def choose(self, logits: np.ndarray, controls: ControlState, draw: float, sounding: bool | None = None,
               notes_only: bool = False, harmony: Harmony | None = None) -> int:
        """The token that the uniform ``draw`` (0..1) picks under ``controls`` (and ``harmony``: the chord, key and
        bar step of the step it plays on); temperature 0 ignores the draw.
        ``notes_only``: a note-on, never a note-off or a rest (see ``probabilities``)."""
        temperature = check_temperature(controls.temperature)
        if temperature == 0:
            return int(np.argmax(self._controlled(self._masked(logits, notes_only), controls, sounding, harmony)))
        cumulative = np.cumsum(self.probabilities(logits, controls, sounding, notes_only, harmony))
        index = int(np.searchsorted(cumulative, draw * cumulative[-1], side="right"))
        return min(index, encoding.VOCAB_SIZE - 1)

    def _controlled(self, scaled: np.ndarray, controls: ControlState, sounding: bool | None,
                    harmony: Harmony | None = None) -> np.ndarray:
        """Apply register, scale lock, harmony and density to tempered log-weights (a new array if any acts)."""
        shape = pitch_shape(controls.scale, controls.scale_root, controls.strictness,
                            controls.register_centre, controls.register_width, self._low, self._high)
        if harmony is not None and controls.harmony > 0:
            shape = with_harmony(shape, harmony, controls.harmony, self._low, self._high)
        if shape is not None:
            pitches = scaled[: encoding.NUM_PITCHES]
            shaped = pitches + shape
            scaled = scaled.copy()
            scaled[: encoding.NUM_PITCHES] = shaped + (log_sum_exp(pitches) - log_sum_exp(shaped))
        if controls.density != DEFAULTS["density"]:
            scaled = self._dense(scaled, controls.density, sounding)
        return scaled

    @staticmethod
    def _dense(scaled: np.ndarray, density: float, sounding: bool | None) -> np.ndarray:
        if not 0 <= density <= 1:
            raise ValueError(f"density must be 0..1, got {density}")
        scaled = scaled.copy()
        scaled[: encoding.NUM_PITCHES] += DENSITY_NATS * (2 * density - 1)
        if sounding is False:  # a NOTE_OFF would end nothing: the same silence as NO_EVENT
            scaled[encoding.NO_EVENT] = np.logaddexp(scaled[encoding.NO_EVENT], scaled[encoding.NOTE_OFF])
            scaled[encoding.NOTE_OFF] = -np.inf
        return scaled

    def _masked(self, logits: np.ndarray, notes_only: bool = False) -> np.ndarray:
        values = np.asarray(logits, dtype=np.float64).reshape(-1)
        if values.shape != (encoding.VOCAB_SIZE,):
            raise ValueError(f"logits have {values.size} values, expected {encoding.VOCAB_SIZE}")
        if not np.all(np.isfinite(values)):
            raise ValueError("logits contain NaN or infinity")
        masked = np.where(self._mask, -np.inf, values)
        if notes_only:
            masked[encoding.NUM_PITCHES :] = -np.inf  # NOTE_OFF and NO_EVENT
        return masked


def cut_tail(weights: np.ndarray, tail_cut: float) -> np.ndarray:
    """``weights`` (any shape, the choices along the last axis, not necessarily normalised) with every weight
    under ``tail_cut`` times the largest of its row set to 0; 0 leaves them as they are."""
    if tail_cut <= 0:
        return weights
    return np.where(weights < tail_cut * weights.max(axis=-1, keepdims=True), 0.0, weights)


def check_temperature(temperature: float) -> float:
    """``temperature`` if it is >= 0, else ValueError (NaN too)."""
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    return temperature


def log_sum_exp(values: np.ndarray) -> float:
    """log(sum(exp(values))), stable; -inf entries count as zero weight (at least one must be finite)."""
    top = values.max()
    return float(top + np.log(np.exp(values - top).sum()))


@lru_cache(maxsize=256)
def pitch_shape(scale: str, root: int, strictness: float, centre: int, width: int,
                low: int, high: int) -> np.ndarray | None:
    """Log-weights added to the 128 note-ons by the scale lock and the register; None when neither acts.

    0 for a pitch that is free, ``-STRICTNESS_NATS * s / (1 - s)`` out of the scale, -inf excluded.
    ``low``..``high``: the contract's pitch range, which stays excluded outside. Never excludes every
    pitch: a register outside the contract's range slides into it (keeping its width where it fits),
    and when no in-scale pitch is left in the register under a hard lock, the in-scale pitches of
    the contract's range nearest to the register are allowed instead. A range holding no scale pitch
    at all (at most two semitones wide) cannot be locked: its pitches stay allowed.
    """
    if not 0 <= strictness <= 1:
        raise ValueError(f"strictness must be 0..1, got {strictness}")
    if not 0 <= centre <= 127 or width < 0:
        raise ValueError(f"register {centre}:{width} needs a centre 0..127 and a width >= 0")
    locked = scale_name(scale) != CHROMATIC and strictness > 0
    bottom, top = register_window(centre, width, low, high)
    if not locked and (bottom, top) == (low, high):
        return None
    pitches = np.arange(encoding.NUM_PITCHES)
    allowed = (pitches >= bottom) & (pitches <= top)
    shape = np.zeros(encoding.NUM_PITCHES)
    if locked:
        member = np.array(in_scale(root, scale)) & (pitches >= low) & (pitches <= high)
        if strictness < 1:
            shape[~member] = -STRICTNESS_NATS * strictness / (1 - strictness)
        elif (allowed & member).any():
            allowed &= member
        elif member.any():  # no scale pitch in the register: the scale's nearest pitches in the range
            distance = np.maximum(bottom - pitches, pitches - top)
            allowed = member & (distance == distance[member].min())
    shape[~allowed] = -np.inf
    shape.flags.writeable = False
    return shape


def register_window(centre: int, width: int, low: int, high: int) -> tuple[int, int]:
    """The register's lowest and highest pitch (``width`` semitones apart, centred on ``centre``),
    moved into ``low``..``high`` where it lies wholly outside, and cut to it."""
    bottom = int(centre) - int(width) // 2
    top = bottom + int(width)
    if top < low:
        bottom, top = low, low + int(width)
    elif bottom > high:
        bottom, top = high - int(width), high
    return max(bottom, low), min(top, high)


def with_harmony(shape: np.ndarray | None, harmony: Harmony, amount: float, low: int, high: int) -> np.ndarray | None:
    """``shape`` (pitch_shape's, None: no shape) with the harmony's log-weights added; where that would exclude
    every pitch (a hard harmony in a register holding no chord tone), ``shape`` alone."""
    weights = harmony_shape(harmony.chord.tones if harmony.chord else None, harmony.key.tones if harmony.key else None,
                            harmony.on_beat, float(amount), low, high)
    if weights is None:
        return shape
    combined = weights if shape is None else shape + weights
    return combined if np.isfinite(combined).any() else shape


@lru_cache(maxsize=1024)
def harmony_shape(chord: frozenset[int] | None, key: frozenset[int] | None, on_beat: bool, amount: float,
                  low: int, high: int) -> np.ndarray | None:
    """Log-weights added to the 128 note-ons by the harmony control at ``amount`` (0..1): 0 for the pitches
    wanted (on the beat: the ``chord``'s tones, else the ``key``'s; off it: the key's and the chord's), minus
    ``HARMONY_NATS * amount / (1 - amount)`` for the others (-inf at 1); off the beat, minus
    ``PASSING_NATS * amount`` for the key's tones outside the chord. ``chord`` and ``key`` are pitch classes
    (None: not known). None when nothing acts, or nothing wanted lies within ``low``..``high``."""
    if not 0 <= amount <= 1:
        raise ValueError(f"harmony must be 0..1, got {amount}")
    wanted = (chord or key) if on_beat else (key | (chord or frozenset()) if key else None)
    if amount == 0 or not wanted:
        return None
    pitches = np.arange(encoding.NUM_PITCHES)
    member = np.isin(pitches % 12, sorted(wanted))
    if not (member & (pitches >= low) & (pitches <= high)).any():
        return None
    shape = np.zeros(encoding.NUM_PITCHES)
    shape[~member] = -np.inf if amount == 1 else -HARMONY_NATS * amount / (1 - amount)
    if not on_beat and chord:
        shape[member & ~np.isin(pitches % 12, sorted(chord))] = -PASSING_NATS * amount
    shape.flags.writeable = False
    return shape
