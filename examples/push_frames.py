"""Push your own frames (``engine.process(frame, timestamp_ms)``).

Usage::

    python examples/push_frames.py [VIDEO_OR_CAMERA_INDEX]

For applications that already own the camera loop (a GUI, a robot, a
recorder): hand each BGR frame to the engine with its timestamp in
milliseconds, which must increase.  Default: camera 0.
"""
from __future__ import annotations

import sys
import time

import cv2

import mer_edge as me


def main(source: str) -> None:
    camera = source.isdigit()
    capture = cv2.VideoCapture(int(source) if camera else source)
    if not capture.isOpened():
        sys.exit(f"cannot open {source}")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    with me.Engine.from_options(me.EngineOptions()) as engine:  # running_mode "push"
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            # A camera frame is stamped when grabbed; a file frame by its position.
            timestamp_ms = time.monotonic() * 1000.0 if camera else index * 1000.0 / fps
            index += 1
            result = engine.process(frame, timestamp_ms)
            for face in result.faces:
                if face.score > 0.5:
                    print(f"{timestamp_ms:8.0f} ms face {face.track_id}: movement score {face.score:.2f}")
            for event in result.events:
                print("event:", event.to_dict())
        for event in engine.flush():  # close the intervals still open at the end
            print("event:", event.to_dict())
    capture.release()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "0")
