"""A learned linear FACS recognizer: multinomial logistic regression on regional flow.

The features are the mean onset->apex optical flow (x and y) in each of the
runtime's facial regions of interest (20 numbers), the same evidence the
hand-written FACS rule uses; the weights are learned on the training
identities and the L2 strength is chosen on the validation identities.  With
63 parameters it cannot memorise four faces the way the CNN recognizers do.
It exports to the same ONNX graph shape as the rule recognizer.

What it learns from (``--signal``):

* ``observed``: the onset->apex flow, as the engine sees it (any dataset);
* ``injected``: on a ``make_bench`` benchmark only, the movement alone,
  measured as the flow from the clean source crop to the bench crop at the
  apex.  The onset->apex flow of a talking training face is mostly that
  person's own motion, which does not carry to new people; the injected
  displacement is the part that does.  Validation (the L2 choice) always uses
  the observed flow, as the engine will.

``--mirror`` adds each training sample mirrored left-right (a one-sided AU
on the other side).

    python -m mer_edge_export.linear_recognizer --bench /work/bench --extra-train B1 ...
        --out FILE.onnx [--signal injected --mirror] [--videos DIR] [--replace-shipped]

``--out`` must end in ``.onnx``; an existing model shipped with the package is
only replaced with ``--replace-shipped``.
"""
from __future__ import annotations

if __name__ == "__main__":  # run as python -m: without PyTorch, one line, not a traceback
    from ._launch import require_torch_to_run
    require_torch_to_run(__spec__)

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mer_edge._errors import DatasetError, MerEdgeError
from mer_edge._flow import FLOW_COMPENSATIONS, FlowEstimator
from mer_edge._modelmeta import InputSpec, ModelInfo
from mer_edge._version import __version__
from mer_edge.data.injected import source_pairs
from mer_edge.data.schema import MEGC_CLASSES
from mer_edge.metrics import recognition_scores

from .data import RecognitionSet, flip_clip, recognition_items, shared_videos_dir
from .outputs import check_model_output
from .placeholders import SIZE, linear_recognizer_graph, roi_weights
from .train import DataSource

SPEC = InputSpec(name="clip", frames=1, channels=("flow_x", "flow_y"), size=SIZE)
#: Training signals and how the model metadata describes them.
SIGNALS = {"observed": "onset->apex flow",
           "injected": "injected displacement (source -> bench flow at the apex)"}
_L2 = (1e-3, 1e-2, 1e-1, 1.0)


def _basis() -> np.ndarray:
    """``(2*S*S, 2R)``: regional means of flow x then flow y."""
    weights = roi_weights()  # (S*S, R)
    zeros = np.zeros_like(weights)
    return np.block([[weights, zeros], [zeros, weights]]).astype(np.float32)


def _features(clips: np.ndarray) -> np.ndarray:
    """``(N, 2R)`` regional means of ``(N, 1, 2, S, S)`` recognition clips."""
    return clips.reshape(len(clips), -1) @ _basis()


def injected_samples(split_dirs: list[Path], videos_dir: Path, cache_dir: Path,
                     spec: InputSpec = SPEC) -> tuple[np.ndarray, np.ndarray]:
    """Clips ``(N, 1, 2, S, S)`` of the injected displacement at each labelled ME's apex, and labels
    (flow as ``spec`` says).

    Raises:
        DatasetError: no labelled ME could be measured in ``split_dirs``.
    """
    flow = FlowEstimator.for_input(spec)
    clips, labels = [], []
    for split_dir in split_dirs:
        for pair in source_pairs(split_dir, videos_dir, cache_dir):
            for event in pair.events("ME"):
                if event.get("category") not in MEGC_CLASSES:
                    continue
                injected = pair.injected_input(event["apex"], spec, flow)
                if injected is None:
                    continue
                clips.append(injected[None])
                labels.append(MEGC_CLASSES.index(event["category"]))
    if not clips:
        raise DatasetError("no labelled ME could be measured against its source video",
                           path=", ".join(map(str, split_dirs)))
    return np.stack(clips), np.asarray(labels, np.int64)


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


def _training_clips(source: DataSource, signal: str, mirror: bool, videos_dir: Path | None,
                    cache: Path, spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    if signal == "observed":
        train = RecognitionSet(recognition_items(source.split("train"), cache), spec, cache)
        clips, labels = train.clips, train.labels
    else:
        split_dirs = source.injected_train_dirs("--signal injected")
        clips, labels = injected_samples(split_dirs, videos_dir or shared_videos_dir(), cache / "align",
                                         spec)
    if mirror:
        clips = np.concatenate([clips, flip_clip(clips, spec.channels)])
        labels = np.concatenate([labels, labels])
    return clips, labels


def train_linear(source: DataSource, out: Path, *, signal: str = "observed", mirror: bool = False,
                 videos_dir: Path | None = None, cache: Path = Path("runs/cache"),
                 flow_compensation: str = "similarity",
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit on the train split, choose the L2 strength on val, write the ONNX model to ``out``.

    Args:
        source: the benchmark (or dataset) splits.
        out: the ``.onnx`` file to write.
        signal: ``observed`` (onset->apex flow) or ``injected`` (a benchmark's
            movements alone; see the module docstring).
        mirror: also train on every sample mirrored left-right.
        videos_dir: the benchmark's source videos (``injected``).
        cache: alignment and feature cache folder.
        flow_compensation: how residual head motion is removed from every flow it
            learns and validates on, written into the model (``input.flow_compensation``).
        log: receives one line per L2 value tried.

    Returns:
        The model's validation metrics (``split``, ``samples``, ``l2``, ``uf1`` ...).
    """
    if signal not in SIGNALS:
        raise DatasetError(f"unknown training signal {signal!r}; valid: {SIGNALS}")
    spec = replace(SPEC, flow_compensation=flow_compensation)  # refuses an unknown one
    train_clips, train_labels = _training_clips(source, signal, mirror, videos_dir, cache, spec)
    val = RecognitionSet(recognition_items(source.split("val"), cache), spec, cache)
    x_train, x_val = _features(train_clips), _features(val.clips)
    names = list(MEGC_CLASSES)
    best = None
    for l2 in _L2:
        w, b = fit(x_train, train_labels, l2)
        scores = recognition_scores([names[i] for i in val.labels],
                                    [names[i] for i in predict(x_val, w, b)], class_names=names)
        log(f"l2 {l2:g}: val UF1 {scores['uf1']:.3f} UAR {scores['uar']:.3f}")
        if best is None or scores["uf1"] > best[0]["uf1"]:
            best = (scores, l2, w, b)
    assert best is not None
    scores, l2, w, b = best
    described = SIGNALS[signal] + (", mirrored" if mirror else "")
    metrics = {"split": "val", "samples": len(val), "l2": l2,
               **{k: round(scores[k], 4) for k in ("accuracy", "uf1", "uar")}}
    info = ModelInfo(
        name="facs-linear-recognizer", task="recognition", method="linear-facs-regions",
        version="0.3.0", input=spec, class_names=MEGC_CLASSES, sdk_version=__version__,
        training_data=f"{source.describe()}; {len(train_labels)} train samples of the {described}",
        metrics=metrics)
    out.parent.mkdir(parents=True, exist_ok=True)
    linear_recognizer_graph(_basis() @ w, b, info, out)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mer_edge_export.linear_recognizer",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, required=True)
    parser.add_argument("--extra-train", type=Path, action="append", default=[])
    parser.add_argument("--extra-val", type=Path, action="append", default=[])
    parser.add_argument("--cache", type=Path, default=Path("runs/cache"))
    parser.add_argument("--signal", choices=sorted(SIGNALS), default="observed",
                        help="learn from the onset->apex flow (default) or from the injected "
                             "displacement alone (a make_bench benchmark with its source videos)")
    parser.add_argument("--videos", type=Path, default=None,
                        help="source videos of the benchmark (default: $MER_EDGE_VIDEOS, else "
                             "../shared/data/videos)")
    parser.add_argument("--mirror", action="store_true",
                        help="also train on every sample mirrored left-right")
    parser.add_argument("--flow-compensation", choices=FLOW_COMPENSATIONS, default="similarity",
                        help="how residual head motion is removed from the flow (default: "
                             "similarity, as the shipped models)")
    parser.add_argument("--out", type=Path, required=True, help="the .onnx file to write")
    parser.add_argument("--replace-shipped", action="store_true",
                        help="allow --out to overwrite a model shipped in mer_edge/models")
    args = parser.parse_args(argv)
    try:
        out = check_model_output(args.out, replace_shipped=args.replace_shipped)
        source = DataSource(bench=args.bench, extra_train=tuple(args.extra_train),
                            extra_val=tuple(args.extra_val))
        metrics = train_linear(source, out, signal=args.signal, mirror=args.mirror,
                               videos_dir=args.videos, cache=args.cache,
                               flow_compensation=args.flow_compensation,
                               log=lambda line: print(line, flush=True))
    except MerEdgeError as error:
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(f"wrote {out}: val UF1 {metrics['uf1']:.3f} (l2 {metrics['l2']:g})")


if __name__ == "__main__":
    main()
