"""Semi-synthetic micro-expressions on real faces, and the benchmark built from them.

Facial action units are injected into real face videos as smooth local
displacement fields that follow the tracked face-mesh landmarks, applied to
the original frames by backward warping, so sensor noise, compression and
lighting stay real.  Ground truth (onset, apex, offset, AUs, emotion) is
known exactly.

>>> from mer_edge.data.synth import make_bench, read_bench_split   # doctest: +SKIP
>>> root = make_bench("bench", seed=0, videos_dir="videos/")      # doctest: +SKIP
>>> test = read_bench_split(root / "test")                         # doctest: +SKIP

Pieces, usable on their own:

* :func:`controls_for`, :data:`AU_NUMBERS`: the AU table (``"4+L12"``);
* :data:`EMOTION_RECIPES`, :func:`sample_recipe`: emotions from AUs;
* :func:`build_field`, :func:`apply_field`: one field, one frame;
* :class:`EventStats`, :func:`temporal_profile`: timing from real statistics;
* :func:`video_landmarks`: the smoothed landmark tracks of a video;
* :func:`plan_events`, :class:`Injector`: movements on a whole video.
"""
from __future__ import annotations

from ._facs import AU_NUMBERS, Control, controls_for, parse_recipe, recipe_text
from ._field import (FaceFrame, SharpnessCompensator, WarpField, apply_field, build_field,
                     skin_mask)
from ._inject import Injector, SynthEvent, plan_events
from ._landmarks import (LandmarkTrack, VideoInfo, VideoLandmarks, clear_landmark_cache,
                         iter_frames, smooth_landmarks, video_info, video_landmarks)
from ._reader import BenchSplit, BenchVideo, read_bench_split
from ._recipes import DEFAULT_EMOTION_WEIGHTS, EMOTION_RECIPES, Recipe, category_of, sample_recipe
from ._timing import (EventStats, EventTiming, sample_amplitude, sample_timing,
                      temporal_profile)
from .bench import (DEFAULT_LAYOUT, GENERATOR_VERSION, TINY_LAYOUT, BenchSource, make_bench)

__all__ = [
    "make_bench",
    "read_bench_split",
    "BenchSource",
    "BenchSplit",
    "BenchVideo",
    "DEFAULT_LAYOUT",
    "TINY_LAYOUT",
    "GENERATOR_VERSION",
    "AU_NUMBERS",
    "Control",
    "controls_for",
    "parse_recipe",
    "recipe_text",
    "EMOTION_RECIPES",
    "DEFAULT_EMOTION_WEIGHTS",
    "Recipe",
    "sample_recipe",
    "category_of",
    "FaceFrame",
    "WarpField",
    "SharpnessCompensator",
    "build_field",
    "apply_field",
    "skin_mask",
    "EventStats",
    "EventTiming",
    "temporal_profile",
    "sample_timing",
    "sample_amplitude",
    "SynthEvent",
    "plan_events",
    "Injector",
    "VideoInfo",
    "LandmarkTrack",
    "VideoLandmarks",
    "video_info",
    "iter_frames",
    "video_landmarks",
    "smooth_landmarks",
    "clear_landmark_cache",
]
