"""Musical evaluation: melodies from the box's generator and from the n-gram against real ones (numpy only).

As in Yang & Lerch 2018 (mgeval), each feature (training/musical/features.py) of a set of melodies is turned
into a distribution by a Gaussian kernel density estimate (KDE), and a candidate set is compared with the
reference (the validation melodies) by

    OA = ∫ min(p_ref, p_cand)          overlapping area, 0 (disjoint) .. 1 (identical)
    KL = ∫ p_ref log(p_ref / p_cand)   nats, 0 when identical

A number-valued feature is compared by the KDEs of its values. A histogram (pitch classes, note lengths)
is compared as mgeval does: the KDE of the distances between the reference's own melodies against the KDE
of the distances from each candidate melody to each reference melody. Bandwidth: Scott's rule, at least a
tenth of the pooled standard deviation (so a set of identical values is a narrow bump, not a spike).
Rows: the model (the box's generator: device StepModel + Sampler), the n-gram baseline (sampled), and real
against real (training melodies, the ceiling).
"""

from __future__ import annotations

import numpy as np

from device.core import encoding
from device.core.timegrid import DEFAULT_BAR_STEPS
from device.engine.sampling import cut_tail
from training.musical.features import FEATURES, KEY_NAMES, Melody, best_keys, feature_table
from training.musical.harmony import format_harmony

GRID_POINTS = 512
MIN_BANDWIDTH_SHARE = 0.1  # of the pooled standard deviation
DENSITY_FLOOR = 1e-12  # keeps KL finite where the candidate has no mass
RARE_KEY_SHARE = 0.03  # a key fewer than this share of the reference melodies is in


def bandwidth(values: np.ndarray, pooled_std: float) -> float:
    """Scott's rule (std * n^-1/5), at least MIN_BANDWIDTH_SHARE of ``pooled_std``; never 0."""
    scott = float(np.std(values, ddof=1)) * len(values) ** -0.2 if len(values) > 1 else 0.0
    return max(scott, MIN_BANDWIDTH_SHARE * pooled_std, 1e-6)


def kde(values: np.ndarray, grid: np.ndarray, width: float) -> np.ndarray:
    """Gaussian KDE of ``values`` on ``grid`` with bandwidth ``width`` (a density: integrates to ~1)."""
    values = np.asarray(values, float)
    density = np.zeros(len(grid))
    for chunk in np.array_split(values, max(1, len(values) // 2048)):
        density += np.exp(-0.5 * ((grid[:, None] - chunk[None, :]) / width) ** 2).sum(axis=1)
    return density / (len(values) * width * np.sqrt(2 * np.pi))


def overlap(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """OA and KL(reference || candidate) of the KDEs of two samples of numbers."""
    reference, candidate = np.asarray(reference, float), np.asarray(candidate, float)
    pooled = float(np.std(np.concatenate([reference, candidate])))
    widths = bandwidth(reference, pooled), bandwidth(candidate, pooled)
    low = min(reference.min(), candidate.min()) - 4 * max(widths)
    high = max(reference.max(), candidate.max()) + 4 * max(widths)
    grid = np.linspace(low, high, GRID_POINTS)
    p, q = kde(reference, grid, widths[0]), kde(candidate, grid, widths[1])
    dx = grid[1] - grid[0]
    p_norm, q_norm = p / (p.sum() * dx), q / (q.sum() * dx)
    kl = np.sum(p_norm * np.log((p_norm + DENSITY_FLOOR) / (q_norm + DENSITY_FLOOR))) * dx
    oa = float(np.minimum(p_norm, q_norm).sum() * dx)
    return {"oa": min(oa, 1.0), "kl": float(max(kl, 0.0))}  # both normalised: OA <= 1 up to rounding


def distances(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances between rows of ``a`` and rows of ``b``; without ``b``, between distinct rows of ``a``."""
    if b is None:
        upper = np.triu_indices(len(a), k=1)
        return np.linalg.norm(a[upper[0]] - a[upper[1]], axis=1)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2).ravel()


def compare_feature(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """OA and KL of one feature: by values (1-D) or, for histograms (2-D), by intra/inter-set distances."""
    if reference.ndim == 1:
        return overlap(reference, candidate)
    return overlap(distances(reference), distances(candidate, reference))


def key_shares(melodies: list[Melody]) -> np.ndarray:
    """Share of the melodies in each key (diatonic set); a melody that fits k keys equally counts 1/k to each."""
    shares = np.zeros(12)
    for melody in melodies:
        keys = best_keys(melody.pitches)
        shares[keys] += 1.0 / len(keys)
    return shares / max(1, len(melodies))


def summary(melodies: list[Melody], features: dict[str, np.ndarray], rare: np.ndarray) -> dict:
    """Plain figures of a set: shares of melodies repeating a bar, fully in one key, in a rare key; means."""
    in_rare = [bool(np.all(rare[best_keys(m.pitches)])) for m in melodies]
    return {
        "melodies": len(melodies),
        "repeat_a_bar": float(np.mean(features["bar_repetition"] > 0)),
        "fully_in_one_key": float(np.mean(features["in_key_fraction"] == 1.0)),
        "in_a_rare_key": float(np.mean(in_rare)),
        "means": {name: float(np.mean(values)) for name, values in features.items() if values.ndim == 1},
    }


def compare_sets(reference: list[Melody], candidates: dict[str, list[Melody]]) -> dict:
    """The musical report: per candidate set, OA and KL of every feature against ``reference``, and summaries.

    Keys of the result: ``features`` (names), ``rows`` {set: {feature: {oa, kl}}}, ``summary`` {set: ...}
    (the reference too), ``rare_keys`` (keys under RARE_KEY_SHARE of the reference melodies).
    """
    if len(reference) < 2:
        raise ValueError(f"the reference needs at least 2 melodies, got {len(reference)}")
    ref_features = feature_table(reference)
    rare = key_shares(reference) < RARE_KEY_SHARE
    report = {"features": list(FEATURES), "rows": {}, "summary": {"reference": summary(reference, ref_features,
                                                                                        rare)},
              "rare_keys": [KEY_NAMES[k] for k in np.flatnonzero(rare)], "values": {"reference": ref_features}}
    for name, melodies in candidates.items():
        if len(melodies) < 2:
            raise ValueError(f"the set {name!r} needs at least 2 melodies, got {len(melodies)}")
        table = feature_table(melodies)
        report["rows"][name] = {f: compare_feature(ref_features[f], table[f]) for f in FEATURES}
        report["summary"][name] = summary(melodies, table, rare)
        report["values"][name] = table
    return report


def format_musical(report: dict) -> str:
    """The terminal table: one row per feature, OA (and KL) per compared set; then the summaries."""
    sets = list(report["rows"])
    head = "| feature | " + " | ".join(f"{s} OA | {s} KL" for s in sets) + " |"
    lines = [head, "|---|" + "---|---|" * len(sets)]
    for feature in report["features"]:
        cells = [f"{report['rows'][s][feature]['oa']:.2f} | {report['rows'][s][feature]['kl']:.2f}" for s in sets]
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    lines += ["", "| set | melodies | repeat a bar | fully in one key | in a rare key |", "|---|---|---|---|---|"]
    for name, row in report["summary"].items():
        lines.append(f"| {name} | {row['melodies']} | {row['repeat_a_bar']:.0%} | {row['fully_in_one_key']:.0%} | "
                     f"{row['in_a_rare_key']:.0%} |")
    rare = ", ".join(report["rare_keys"]) or "none"
    played_in = report.get("settings", {}).get("bar_steps")
    if played_in:
        bars = ", ".join(f"{bar}: {count}" for bar, count in played_in.items())
        lines.append(f"\nBars the model played in (16th steps: melodies): {bars}, drawn from the reference's.")
    if "harmony" in report:
        lines += ["", format_harmony(report["harmony"])]
    lines.append(f"\nOA: overlap of feature distributions with the reference (1 = same, 0 = disjoint); KL in nats. "
                 f"Rare keys (under {RARE_KEY_SHARE:.0%} of the reference): {rare}.")
    return "\n".join(lines)


def cut(melodies: list[np.ndarray], steps: int, melody_metres=None) -> list[tuple[np.ndarray, tuple[int, int]]]:
    """The first ``steps`` tokens of each melody at least that long, with its metre (bar_steps, bar_offset);
    (16, 0) where none is given."""
    melody_metres = melody_metres or [(DEFAULT_BAR_STEPS, 0)] * len(melodies)
    return [(np.asarray(m[:steps]), tuple(metre)) for m, metre in zip(melodies, melody_metres, strict=True)
            if len(m) >= steps]


def generate(generator, count: int, steps: int, temperature: float) -> list[np.ndarray]:
    """``count`` melodies of ``steps`` tokens from a device Generator, each from its primed state."""
    melodies = []
    for _ in range(count):
        generator.reset()
        melodies.append(np.array([generator.next_token(temperature) for _ in range(steps)], np.int64))
    return melodies


def sample_ngram(ngram, count: int, steps: int, temperature: float, seed: int,
                 tail_cut: float = 0.0) -> list[np.ndarray]:
    """``count`` melodies of ``steps`` tokens sampled from a KneserNey model, all at once (START-padded).

    ``tail_cut``: as the box's sampler, tokens under that share of the likeliest one's probability are not drawn."""
    rng = np.random.default_rng(seed)
    history = np.full((count, ngram.order - 1 + steps), encoding.START_TOKEN, np.int64)
    for step in range(steps):
        at = ngram.order - 1 + step
        probabilities = ngram.distribution(history[:, at - ngram.order + 1: at])
        if temperature != 1.0:
            probabilities = probabilities ** (1.0 / temperature)
        probabilities = cut_tail(probabilities, tail_cut)
        cumulative = np.cumsum(probabilities, axis=1)
        draws = rng.random(count)[:, None] * cumulative[:, -1:]
        history[:, at] = np.minimum((cumulative <= draws).sum(axis=1), encoding.VOCAB_SIZE - 1)
    return list(history[:, ngram.order - 1:])
