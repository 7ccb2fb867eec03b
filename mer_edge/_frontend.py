"""Face landmarks with MediaPipe's face mesh, offline, several faces, fast.

MediaPipe's legacy face mesh graph (``FaceLandmarkFrontCpu``) runs the face
*detector* on every frame in which it tracks fewer faces than ``num_faces``.
With ``max_faces=4`` and one person in view that is every frame, which costs
about 1.5 ms on top of the ~2 ms landmark model.  :class:`FaceLandmarker` runs
the same bundled graph, but the gate in front of the detector is driven from
Python (see :func:`_build_graph_config` for the other small changes).  Faces
are tracked from their previous landmarks on every frame, and the detector
runs only

* while no face is tracked,
* every ``redetect_every`` frames, to pick up people who came into view,
* while fewer faces are tracked than in the last ``2 * redetect_every``
  frames, to find a lost face again at once (the detector often finds a
  turned or distant face only on some frames),

and never while ``max_faces`` faces are already tracked.  The models are the
ones bundled in the ``mediapipe`` wheel, so nothing is downloaded.

``mediapipe`` is imported only when a :class:`FaceLandmarker` is built (on a
thread of its own: see :func:`_import_mediapipe`).
"""
from __future__ import annotations

import math
import os
import sys
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._errors import BackendError, InputError
from ._lifecycle import Closeable

__all__ = ["FaceObservation", "FaceLandmarker", "box_from_landmarks", "box_iou", "validate_bgr"]

_GRAPH_FILE = os.path.join("modules", "face_landmark", "face_landmark_front_cpu.binarypb")
# Names inside MediaPipe's FaceLandmarkFrontCpu graph (mediapipe 0.10.x).
_DETECTOR_GATE_INPUT = "DISALLOW:prev_has_enough_faces"
_ENOUGH_FACES_NODE = "NormalizedRectVectorHasMinSizeCalculator"
_DETECTOR_NODE = ("facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
                  "TensorsToDetectionsCalculator")
_PRESENCE_NODE = "facelandmarkcpu__ThresholdingCalculator"
# Streams of the FaceLandmarkCpu subgraph once it is expanded inside the graph.
_PRESENCE_SCORE = "facelandmarkcpu__face_presence_score"
_PRESENCE_FLAG = "facelandmarkcpu__face_presence"
_LOOP_END = "landmarks_loop_end_timestamp"
_TRACKED_ROIS = "face_rects_from_landmarks"
_TRACKED_ROIS_LOOP = "LOOP:" + _TRACKED_ROIS
# Streams this module adds.
_SKIP_DETECTION = "skip_detection"
_LANDMARKS = "multi_face_landmarks"
_PRESENCE = "multi_face_presence"
_UNIQUE_ROIS = "unique_face_rects_from_landmarks"
# While fewer faces are tracked than were in the last this many redetect
# periods, the detector runs on every frame to find the missing ones again.
_RECENT_FRAMES_PER_PERIOD = 2
# Two faces whose regions overlap more than this are one face.
_DUPLICATE_IOU = 0.5

# A NormalizedLandmark with x, y, z set and nothing else serialises to a fixed
# 17-byte record: field tag, length 15, then three tagged little-endian floats.
_RECORD = 17
_RECORD_HEAD = np.array([0x0A, 0x0F, 0x0D], dtype=np.uint8)
_RECORD_XY = np.dtype({"names": ["x", "y"], "formats": ["<f4", "<f4"],
                       "offsets": [3, 8], "itemsize": _RECORD})


def box_from_landmarks(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """The ``(4,) float32`` ``[x0, y0, x1, y1]`` extent of ``landmarks``, clipped to the frame."""
    lo = landmarks.min(axis=0)
    hi = landmarks.max(axis=0)
    return np.array([min(max(lo[0], 0.0), width), min(max(lo[1], 0.0), height),
                     min(max(hi[0], 0.0), width), min(max(hi[1], 0.0), height)],
                    dtype=np.float32)


@dataclass(frozen=True)
class FaceObservation:
    """One face found in one frame.

    Attributes:
        landmarks: ``(N, 2) float32`` face-mesh points in source-frame pixels
            (N = 468, or 478 with iris refinement).  Points of a face that is
            partly out of view may lie outside the frame.
        box: ``(4,) float32`` ``[x0, y0, x1, y1]`` pixels: the landmark extent
            clipped to the frame.
        presence: face-presence probability from the landmark model in
            ``[0, 1]``, ``nan`` when unknown.
    """

    landmarks: np.ndarray
    box: np.ndarray
    presence: float = math.nan

    def __post_init__(self) -> None:
        marks = np.asarray(self.landmarks, dtype=np.float32)
        if marks.ndim != 2 or marks.shape[1] != 2 or marks.shape[0] == 0:
            raise InputError(f"landmarks: expected shape (N, 2) with N > 0, got {marks.shape}")
        box = np.asarray(self.box, dtype=np.float32)
        if box.shape != (4,):
            raise InputError(f"box: expected shape (4,), got {box.shape}")
        if not (box[2] >= box[0] and box[3] >= box[1]):
            raise InputError(f"box: expected x0<=x1 and y0<=y1, got {box.tolist()}")
        object.__setattr__(self, "landmarks", marks)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "presence", float(self.presence))

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray, frame_size: tuple[int, int],
                       presence: float = math.nan) -> FaceObservation:
        """Build an observation whose box is the landmark extent.

        ``frame_size`` is ``(width, height)`` in pixels.
        """
        marks = np.asarray(landmarks, dtype=np.float32)
        if marks.ndim != 2 or marks.shape[1] != 2 or marks.shape[0] == 0:
            raise InputError(f"landmarks: expected shape (N, 2) with N > 0, got {marks.shape}")
        return cls(marks, box_from_landmarks(marks, *frame_size), presence)

    @property
    def center(self) -> np.ndarray:
        """``(2,) float32`` centre of :attr:`box` in pixels."""
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2],
                        dtype=np.float32)


def _check_unit(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise InputError(f"{name}: expected a number in [0, 1], got {value!r}")
    return float(value)


def _check_positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}: expected an int >= 1, got {value!r}")
    return value


def validate_bgr(frame: Any, what: str = "frame", min_side: int = 1) -> np.ndarray:
    """Return ``frame`` as a C-contiguous ``(H, W, 3) uint8`` array or raise :class:`InputError`.

    The error names the shape and dtype, and the conversion for the forms
    applications commonly hold (grayscale, BGRA, float pixels).  ``H`` and
    ``W`` must be at least ``min_side``.
    """
    if not isinstance(frame, np.ndarray):
        raise InputError(f"{what}: expected a numpy array (H, W, 3) uint8 BGR, "
                         f"got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise InputError(f"{what}: expected shape (H, W, 3) uint8 BGR, "
                         f"got shape {frame.shape} dtype {frame.dtype}{_conversion_hint(frame)}")
    if frame.shape[0] < min_side or frame.shape[1] < min_side:
        raise InputError(f"{what}: expected an image of at least {min_side}x{min_side} pixels, "
                         f"got shape {frame.shape}")
    return np.ascontiguousarray(frame)


def _conversion_hint(frame: np.ndarray) -> str:
    """How to turn ``frame`` into ``(H, W, 3) uint8`` BGR, when its form is a common one."""
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return " (grayscale: convert with cv2.COLOR_GRAY2BGR)"
    if frame.ndim == 3 and frame.shape[2] == 4:
        return " (BGRA: convert with cv2.COLOR_BGRA2BGR)"
    if frame.ndim == 3 and frame.shape[2] == 3 and np.issubdtype(frame.dtype, np.floating):
        return " (float pixels: scale to 0-255 and convert with .astype(np.uint8))"
    return ""


def _import_mediapipe() -> Any:
    """MediaPipe, imported on first use on a thread of its own.

    Its import keeps exceptions raised while it ran (``mediapipe``'s audio
    module stores sounddevice's import error in a global; pyparsing, through
    matplotlib, leaves cycles of caught ones), and their tracebacks hold the
    importing frames and, through ``f_back``, every caller's frame with its
    locals.  Imported from the caller's stack, that kept the
    :class:`FaceLandmarker` and the :class:`~mer_edge.Engine` being built
    (the first of a process) alive for good, their models and graph
    included; on its own thread the import keeps only that thread's frames.

    Raises:
        BackendError: MediaPipe cannot be imported (with the pip command).
    """
    try:
        if "mediapipe" not in sys.modules:
            _run_on_own_thread(_load_mediapipe)
        import mediapipe  # noqa: PLC0415 - optional heavy dependency, imported lazily
    except ImportError as exc:
        raise BackendError(
            "the face landmarker needs MediaPipe: pip install 'mediapipe>=0.10,<0.11' "
            f"({exc})") from exc
    return mediapipe


def _load_mediapipe() -> None:
    """Import MediaPipe (on the thread :func:`_import_mediapipe` starts)."""
    import mediapipe  # noqa: F401, PLC0415 - see _import_mediapipe


def _run_on_own_thread(function: Callable[[], None]) -> None:
    """Call ``function`` on a new thread and wait for it; what it raises is raised here.

    The frames on that thread's stack are ``function``'s and the thread's:
    nothing it keeps can reach the caller's.
    """
    raised: list[BaseException] = []

    def call() -> None:
        try:
            function()
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            raised.append(error)

    thread = threading.Thread(target=call, name=f"mer_edge {function.__name__}", daemon=True)
    thread.start()
    thread.join()
    if raised:
        raise raised.pop()


def _set_option(node: Any, options_type: Any, field: str, value: float) -> None:
    """Set ``field`` of a node's options, stored either as a proto2 extension or as an Any."""
    for packed in node.node_options:
        if packed.type_url.endswith("/" + options_type.DESCRIPTOR.full_name):
            options = options_type.FromString(packed.value)
            setattr(options, field, value)
            packed.value = options.SerializeToString()
            return
    setattr(node.options.Extensions[options_type.ext], field, value)


def _unsupported(mp: Any, what: str) -> BackendError:
    return BackendError(f"unsupported MediaPipe {getattr(mp, '__version__', '?')}: its face "
                        f"mesh graph has no {what} (mediapipe 0.10.x is supported)")


def _rewire(mp: Any, nodes: list[Any], old: str, new: str, what: str) -> None:
    """In the one node that reads input ``old`` (``TAG:stream``), read ``new`` instead."""
    readers = [n for n in nodes if old in n.input_stream]
    if len(readers) != 1:
        raise _unsupported(mp, what)
    inputs = list(readers[0].input_stream)
    inputs[inputs.index(old)] = new
    del readers[0].input_stream[:]
    readers[0].input_stream.extend(inputs)


def _build_graph_config(mp: Any) -> Any:
    """MediaPipe's face mesh graph with a Python-driven detector gate and presence output.

    Changes to ``FaceLandmarkFrontCpu``:

    * the detector gate reads the graph input ``skip_detection`` instead of
      "enough faces were tracked in the previous frame";
    * tracked regions that overlap are merged before they are fed back, so a
      face found again by the detector is not tracked twice;
    * the landmark model's presence score of each kept face is an output.
    """
    from mediapipe.calculators.util import association_calculator_pb2 as assoc_pb2
    from mediapipe.framework import calculator_pb2

    path = os.path.join(os.path.dirname(mp.__file__), _GRAPH_FILE)
    config = calculator_pb2.CalculatorGraphConfig()
    try:
        with open(path, "rb") as handle:
            config.ParseFromString(handle.read())
    except OSError as exc:
        raise BackendError(f"the MediaPipe face mesh graph is missing: {path} ({exc})") from exc

    nodes = [n for n in config.node if n.calculator != _ENOUGH_FACES_NODE]
    if len(nodes) != len(config.node) - 1:
        raise _unsupported(mp, _ENOUGH_FACES_NODE)
    _rewire(mp, nodes, _DETECTOR_GATE_INPUT, "DISALLOW:" + _SKIP_DETECTION, "detector gate")
    _rewire(mp, nodes, _TRACKED_ROIS_LOOP, "LOOP:" + _UNIQUE_ROIS, "tracking loop")
    del config.node[:]
    config.node.extend(nodes)
    config.input_stream.append("SKIP_DETECTION:" + _SKIP_DETECTION)

    merge = config.node.add(calculator="AssociationNormRectCalculator",
                            input_stream=[_TRACKED_ROIS], output_stream=[_UNIQUE_ROIS])
    merge.options.Extensions[assoc_pb2.AssociationCalculatorOptions.ext] \
        .min_similarity_threshold = _DUPLICATE_IOU
    # The presence streams live in the FaceLandmarkCpu subgraph; they get
    # these names when the graph is expanded.
    config.node.add(calculator="GateCalculator",
                    input_stream=[_PRESENCE_SCORE, "ALLOW:" + _PRESENCE_FLAG],
                    output_stream=["kept_presence_score"])
    config.node.add(calculator="EndLoopFloatCalculator",
                    input_stream=["ITEM:kept_presence_score", "BATCH_END:" + _LOOP_END],
                    output_stream=["ITERABLE:" + _PRESENCE])
    config.output_stream.append("PRESENCE:" + _PRESENCE)
    return config


def _node_options(min_detection: float, min_tracking: float) -> dict[str, tuple[Any, str, float]]:
    """Options of expanded nodes, by node name, as MediaPipe's FaceMesh sets them."""
    from mediapipe.calculators.tensor import tensors_to_detections_calculator_pb2 as det_pb2
    from mediapipe.calculators.util import thresholding_calculator_pb2 as thr_pb2

    return {
        _DETECTOR_NODE: (det_pb2.TensorsToDetectionsCalculatorOptions, "min_score_thresh",
                         min_detection),
        _PRESENCE_NODE: (thr_pb2.ThresholdingCalculatorOptions, "threshold", min_tracking),
    }


def _expand(mp: Any, config: Any, options: dict[str, tuple[Any, str, float]]) -> Any:
    """Expand the subgraphs of ``config`` and apply node ``options`` by node name."""
    from mediapipe.framework import calculator_pb2
    from mediapipe.python._framework_bindings import resource_util, validated_graph_config

    # Model paths in the graph are relative to the directory holding the
    # ``mediapipe`` package; MediaPipe's own solutions set the same directory.
    resource_util.set_resource_dir(os.path.dirname(os.path.dirname(os.path.abspath(mp.__file__))))
    validated = validated_graph_config.ValidatedGraphConfig()
    validated.initialize(graph_config=config)
    expanded = calculator_pb2.CalculatorGraphConfig()
    expanded.ParseFromString(validated.binary_config)
    found = set()
    for node in expanded.node:
        if node.name in options:
            options_type, field, value = options[node.name]
            _set_option(node, options_type, field, value)
            found.add(node.name)
    missing = set(options) - found
    if missing:
        raise BackendError(f"unsupported MediaPipe {getattr(mp, '__version__', '?')}: "
                           f"face mesh nodes not found: {sorted(missing)}")
    return expanded


class FaceLandmarker(Closeable):
    """Face-mesh landmarks of up to ``max_faces`` faces per frame, on the CPU.

    Frames are treated as a video: faces found in one frame are tracked into
    the next from their landmarks, so call :meth:`detect` on consecutive frames
    of one stream and :meth:`reset` before starting another.  Not thread-safe.

    Args:
        max_faces: most faces reported per frame.
        min_detection_confidence: face-detector score needed to start a face.
        min_tracking_confidence: landmark-model presence needed to keep a face.
        redetect_every: run the face detector at least every this many frames
            to find faces that came into view (1 = every frame, as MediaPipe's
            FaceMesh does).  It also runs on every frame while a face seen in
            the last ``2 * redetect_every`` frames is missing.
        refine_landmarks: use the attention model, 478 points with irises
            (slower).

    Attributes:
        detector_runs: frames the face detector ran on since the last reset.

    Raises:
        InputError: an argument is out of range.
        BackendError: MediaPipe is missing or its graph cannot be built.
    """

    def __init__(self, *, max_faces: int = 4, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, redetect_every: int = 15,
                 refine_landmarks: bool = False) -> None:
        self.max_faces = _check_positive_int("max_faces", max_faces)
        self.redetect_every = _check_positive_int("redetect_every", redetect_every)
        detection = _check_unit("min_detection_confidence", min_detection_confidence)
        tracking = _check_unit("min_tracking_confidence", min_tracking_confidence)
        self.refine_landmarks = bool(refine_landmarks)
        self._graph: Any = None
        mp = _import_mediapipe()
        from mediapipe.python import packet_creator, packet_getter
        self._mp = mp
        self._create = packet_creator
        self._get = packet_getter
        try:
            from mediapipe.python._framework_bindings import _packet_getter
            self._serialized = getattr(_packet_getter, "_get_serialized_proto_list", None)
        except ImportError:
            self._serialized = None
        try:
            config = _expand(mp, _build_graph_config(mp), _node_options(detection, tracking))
            self._graph = mp.CalculatorGraph(graph_config=config)
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"cannot build the MediaPipe face mesh graph: {exc}") from exc
        self._outputs: dict[str, Any] = {}
        for stream in (_LANDMARKS, _PRESENCE):
            self._graph.observe_output_stream(stream, self._outputs.__setitem__, True)
        self._side_packets = {
            "num_faces": packet_creator.create_int(self.max_faces),
            "use_prev_landmarks": packet_creator.create_bool(True),
            "with_attention": packet_creator.create_bool(self.refine_landmarks),
        }
        self._start()

    def _start(self) -> None:
        self._graph.start_run(self._side_packets)
        self._timestamp = 0
        self._tracked = 0          # faces tracked after the previous frame
        self._recent: deque[int] = deque(maxlen=_RECENT_FRAMES_PER_PERIOD * self.redetect_every)
        self._since_detection = 0  # frames since the last detector run
        self.detector_runs = 0

    def _should_detect(self) -> bool:
        if self._tracked >= self.max_faces:
            return False
        return (self._tracked == 0 or self._tracked < max(self._recent, default=0)
                or self._since_detection + 1 >= self.redetect_every)

    def detect(self, frame_bgr: np.ndarray) -> list[FaceObservation]:
        """Landmarks of the faces in ``frame_bgr``, an ``(H, W, 3) uint8`` BGR image.

        Returns an empty list when no face is found.

        Raises:
            InputError: the frame is not an ``(H, W, 3) uint8`` array.
            BackendError: the landmarker is closed or MediaPipe failed.
        """
        import cv2

        frame = validate_bgr(frame_bgr)
        if self._graph is None:
            raise BackendError("FaceLandmarker is closed")
        height, width = frame.shape[:2]
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        rgb.flags.writeable = False  # lets MediaPipe borrow the pixels instead of copying
        detect = self._should_detect()
        self._timestamp += 1
        self._outputs.clear()
        try:
            self._graph.add_packet_to_input_stream(
                "image", self._create.create_image_frame(
                    rgb, image_format=self._mp.ImageFormat.SRGB, copy=False).at(self._timestamp))
            self._graph.add_packet_to_input_stream(
                _SKIP_DETECTION, self._create.create_bool(not detect).at(self._timestamp))
            self._graph.wait_until_idle()
        except (RuntimeError, ValueError) as exc:
            raise BackendError(f"MediaPipe face mesh failed: {exc}") from exc
        marks = self._landmarks()
        presence = self._presence(len(marks))
        scale = np.array([width, height], dtype=np.float32)
        faces = _drop_duplicates([
            FaceObservation(m * scale, box_from_landmarks(m * scale, width, height), p)
            for m, p in zip(marks, presence)])
        self._tracked = len(faces)
        self._recent.append(self._tracked)
        del faces[self.max_faces:]
        if detect:
            self.detector_runs += 1
            self._since_detection = 0
        else:
            self._since_detection += 1
        return faces

    def _landmarks(self) -> list[np.ndarray]:
        """Normalised ``(N, 2)`` landmarks of each face from the last graph run."""
        packet = self._outputs.get(_LANDMARKS)
        if packet is None or packet.is_empty():
            return []
        if self._serialized is not None:
            blobs = self._serialized(packet)
        else:
            blobs = [m.SerializeToString() for m in self._get.get_proto_list(packet)]
        return [_parse_landmarks(blob) for blob in blobs]

    def _presence(self, count: int) -> list[float]:
        packet = self._outputs.get(_PRESENCE)
        values = [] if packet is None or packet.is_empty() else self._get.get_float_list(packet)
        return list(values) if len(values) == count else [math.nan] * count

    def reset(self) -> None:
        """Forget tracked faces, e.g. before processing another video."""
        if self._graph is None:
            raise BackendError("FaceLandmarker is closed")
        self._graph.close()
        self._start()

    def close(self) -> None:
        """Release the MediaPipe graph.  Calling it again does nothing."""
        graph, self._graph = self._graph, None
        if graph is not None:
            graph.close()


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[x0, y0, x1, y1]`` boxes (0 when they do not overlap)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = float(w * h)
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0


def _drop_duplicates(faces: list[FaceObservation]) -> list[FaceObservation]:
    """Keep one face of every group whose boxes overlap more than ``_DUPLICATE_IOU``.

    A face found again by the detector is reported twice on that frame (the
    graph merges the two regions before the next one); the first is kept.
    """
    kept: list[FaceObservation] = []
    for face in faces:
        if all(box_iou(face.box, other.box) <= _DUPLICATE_IOU for other in kept):
            kept.append(face)
    return kept


def _parse_landmarks(blob: bytes) -> np.ndarray:
    """``(N, 2) float32`` x, y of a serialised ``NormalizedLandmarkList``."""
    count, rest = divmod(len(blob), _RECORD)
    if rest == 0 and count > 0:
        records = np.frombuffer(blob, dtype=np.uint8).reshape(count, _RECORD)
        if (np.array_equal(records[:, :3], np.broadcast_to(_RECORD_HEAD, (count, 3)))
                and (records[:, 7] == 0x15).all() and (records[:, 12] == 0x1D).all()):
            xy = np.frombuffer(blob, dtype=_RECORD_XY)
            out = np.empty((count, 2), dtype=np.float32)
            out[:, 0] = xy["x"]
            out[:, 1] = xy["y"]
            return out
    # Any other encoding (extra fields, another protobuf writer): parse it properly.
    from mediapipe.framework.formats import landmark_pb2

    message = landmark_pb2.NormalizedLandmarkList.FromString(blob)
    return np.array([(p.x, p.y) for p in message.landmark], dtype=np.float32).reshape(-1, 2)
