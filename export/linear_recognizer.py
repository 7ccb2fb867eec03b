"""A learned linear FACS recognizer: multinomial logistic regression on regional flow.

The features are the mean onset->apex optical flow (x and y) in each of the
runtime's facial regions of interest (20 numbers), the same evidence the
hand-written FACS rule uses; the weights are learned on the training
identities and the L2 strength is chosen on the validation identities.  With
63 parameters it cannot memorise four faces the way the CNN recognizers do.
It exports to the same ONNX graph shape as the rule recognizer.

    python -m export.linear_recognizer --bench /work/bench --extra-train B1 ... --out FILE.onnx
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mer_edge._modelmeta import InputSpec, ModelInfo
from mer_edge._version import __version__
from mer_edge.data.schema import MEGC_CLASSES
from mer_edge.metrics import recognition_scores

from .data import RecognitionSet, recognition_items
from .placeholders import SIZE, linear_recognizer_graph, roi_weights
from .train import DataSource

SPEC = InputSpec(name="clip", frames=1, channels=("flow_x", "flow_y"), size=SIZE)
_L2 = (1e-3, 1e-2, 1e-1, 1.0)


def _basis() -> np.ndarray:
    """``(2*S*S, 2R)``: regional means of flow x then flow y."""
    weights = roi_weights()  # (S*S, R)
    zeros = np.zeros_like(weights)
    return np.block([[weights, zeros], [zeros, weights]]).astype(np.float32)


def _features(samples: RecognitionSet) -> np.ndarray:
    return samples.clips.reshape(len(samples), -1) @ _basis()


def fit(x: np.ndarray, y: np.ndarray, l2: float, steps: int = 3000, lr: float = 0.5
        ) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression by gradient descent."""
    classes = len(MEGC_CLASSES)
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    sample_weight = (counts.sum() / np.maximum(counts, 1) / classes)[y]
    scale = x.std(axis=0) + 1e-6
    z = x / scale
    w = np.zeros((z.shape[1], classes))
    b = np.zeros(classes)
    onehot = np.eye(classes)[y]
    for _ in range(steps):
        logits = z @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * sample_weight[:, None] / len(y)
        w -= lr * (z.T @ g + l2 * w)
        b -= lr * g.sum(axis=0)
    return (w / scale[:, None]).astype(np.float32), b.astype(np.float32)


def predict(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.argmax(x @ w + b, axis=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True)
    parser.add_argument("--extra-train", type=Path, action="append", default=[])
    parser.add_argument("--extra-val", type=Path, action="append", default=[])
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    source = DataSource(bench=args.bench, extra_train=tuple(args.extra_train),
                        extra_val=tuple(args.extra_val))
    sets = {name: RecognitionSet(recognition_items(source.split(name), args.cache), SPEC, args.cache)
            for name in ("train", "val")}
    x = {name: _features(s) for name, s in sets.items()}
    best = None
    for l2 in _L2:
        w, b = fit(x["train"], sets["train"].labels, l2)
        names = list(MEGC_CLASSES)
        scores = recognition_scores([names[i] for i in sets["val"].labels],
                                    [names[i] for i in predict(x["val"], w, b)], class_names=names)
        print(f"l2 {l2:g}: val UF1 {scores['uf1']:.3f} UAR {scores['uar']:.3f}", flush=True)
        if best is None or scores["uf1"] > best[0]["uf1"]:
            best = (scores, l2, w, b)
    scores, l2, w, b = best
    info = ModelInfo(
        name="facs-linear-recognizer", task="recognition", method="linear-facs-regions",
        version="0.1.0", input=SPEC, class_names=MEGC_CLASSES, sdk_version=__version__,
        training_data=f"{source.describe()}; {len(sets['train'])} train samples",
        metrics={"split": "val", "samples": len(sets["val"]), "l2": l2,
                 **{k: round(scores[k], 4) for k in ("accuracy", "uf1", "uar")}})
    linear_recognizer_graph(_basis() @ w, b, info, args.out)
    print(f"wrote {args.out}: val UF1 {scores['uf1']:.3f} (l2 {l2:g})")


if __name__ == "__main__":
    main()
