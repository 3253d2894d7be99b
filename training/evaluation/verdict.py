"""The verdict of an evaluation: is the model better than each other row, clearly, on these melodies? (numpy only)

The model is compared with each other model (the one it was fine-tuned from, the unigram, the best n-gram)
melody by melody: the difference of their NLL over all tokens, and a 95 % interval for it from a bootstrap over
the melodies (melodies drawn with replacement, RESAMPLES times, fixed seed). "Better" and "worse" are said only
when the interval lies on one side of 0; otherwise the two cannot be told apart on these melodies. With fewer
than MIN_MELODIES melodies or MIN_TOKENS tokens there is no verdict at all, only what to do to get one.
"""

from __future__ import annotations

import numpy as np

MIN_MELODIES = 5  # fewer: a bootstrap over melodies has too few distinct draws (5 melodies give 126) to mean much
MIN_TOKENS = 512  # 32 bars of 4/4, two training windows
RESAMPLES = 1000
BASELINE_NAMES = {"unigram": "unigram (token frequencies)", "kneser-ney": "best n-gram"}


def compare(model: np.ndarray, other: np.ndarray, lengths: list[int], seed: int = 0) -> dict:
    """The model against another on the same tokens: per-token log-probabilities (nats) of each, and the melody
    lengths that cut them. Returns the NLL difference model - other (nats/token; negative: the model is better),
    its 95 % bootstrap interval over melodies, and how many melodies the model predicts better."""
    ends = np.cumsum(lengths)[:-1]
    gaps = np.array([part.sum() for part in np.split(other - model, ends)])  # NLL model - other, summed per melody
    sizes = np.asarray(lengths, float)
    draws = np.random.default_rng(seed).integers(0, len(sizes), (RESAMPLES, len(sizes)))
    resampled = gaps[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    low, high = np.percentile(resampled, [2.5, 97.5])
    return {"nll_difference": float(gaps.sum() / sizes.sum()), "interval_95": [float(low), float(high)],
            "melodies_better": int((gaps < 0).sum())}


def relative(model_nll: float, other_nll: float) -> float:
    """How much lower (positive) or higher (negative) the model's NLL is than the other's, in percent."""
    return 100.0 * (other_nll - model_nll) / other_nll


def enough_data(report: dict) -> bool:
    """True when the report's melodies are enough for a verdict (MIN_MELODIES and MIN_TOKENS)."""
    return report["melodies"] >= MIN_MELODIES and report["models"]["lstm"]["tokens"] >= MIN_TOKENS


TOO_LITTLE = (f"Too little to tell whether the model is better or worse than the others: a verdict needs at least "
              f"{MIN_MELODIES} melodies and {MIN_TOKENS} tokens. Hold out more of your melodies when training "
              "(`melodybox-train train ... --validation-fraction 0.3`), or evaluate on tunes the model has not seen "
              "(`--data more.npz`, made by `prepare`).")


def label(name: str, report: dict) -> str:
    if name == "base":
        return f"{report.get('base', 'base model')}, the model it was fine-tuned from"
    if name == "unigram":
        return BASELINE_NAMES["unigram"]
    return f"{BASELINE_NAMES['kneser-ney']} (order {name.rsplit('-', 1)[1]})"


def judge(report: dict, name: str) -> str:
    """"better", "worse" or "unclear": the model against the row ``name`` (by the interval when there is one)."""
    comparison = report.get("comparisons", {}).get(name)
    if comparison is None:
        return "better" if relative(report["models"]["lstm"]["nll"], report["models"][name]["nll"]) > 0 else "worse"
    low, high = comparison["interval_95"]
    return "better" if high < 0 else "worse" if low > 0 else "unclear"


def sentence(report: dict, name: str, judged: str) -> str:
    model, other = report["models"]["lstm"]["nll"], report["models"][name]["nll"]
    gain = relative(model, other)
    figures = f"NLL {model:.3f} vs {other:.3f} nats/token, {abs(gain):.1f}% {'lower' if gain > 0 else 'higher'}"
    if judged == "unclear":
        return (f"not clearly better or worse than the {label(name, report)} ({figures}, a difference chance gives "
                f"on {report['melodies']} melodies)")
    return f"{judged} than the {label(name, report)}: {figures}"


def verdict(report: dict) -> str:
    """The report in words: better, worse or not clearly different from each other row, by how much, and what
    to try; no verdict on too few melodies."""
    others = [name for name in report["models"] if name != "lstm"]
    if not others:
        return (f"NLL {report['models']['lstm']['nll']:.3f} nats/token (no baselines: their training melodies are "
                "not available here).")
    if "melodies" in report and not enough_data(report):
        return TOO_LITTLE
    judged = {name: judge(report, name) for name in others}
    text = "The model is " + "; ".join(sentence(report, name, judged[name]) for name in others) + "."
    base = report.get("base", "the model it started from")
    if judged.get("base") == "worse":
        text += (f" Fine-tuning made it worse on these melodies than {base}: train fewer --epochs or with a lower "
                 f"--learning-rate, or keep {base}.")
    elif judged.get("base") == "unclear":
        text += f" On these melodies it cannot be told apart from {base}: more of your melodies would tell."
    fine_tuned = "base" in report
    if judged.get("unigram") == "worse":
        text += (" It has learned less than how often each token occurs: training has barely started. Train "
                 "longer (more --epochs, --steps-per-epoch or --max-minutes)" + ("." if fine_tuned else
                 " or, for a small corpus, fine-tune the shipped model (`melodybox-train train own.npz --run "
                 "runs/mine --from default`)."))
    elif any(judged[name] == "worse" for name in others if name.startswith("kneser-ney")):
        text += (" It has learned no more than short note patterns. " + (
            "Train it longer (more --epochs or --max-minutes) or on more of your melodies." if fine_tuned else
            "For a small corpus, fine-tune the shipped model (`--from default`); otherwise train longer, on more "
            "melodies, or with a larger model."))
    return text
