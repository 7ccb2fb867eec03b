"""Training configurations: the shipped JSON files, tiny overrides, bad input."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from export.config import METHOD_CONFIGS, TrainConfig, load_config  # noqa: E402
from mer_edge._errors import InputError  # noqa: E402


@pytest.mark.parametrize("method", sorted(METHOD_CONFIGS))
def test_shipped_configs_load(method):
    config = load_config(method)
    tiny = load_config(method, tiny=True)
    assert config.method == tiny.method == method
    assert tiny.steps_per_epoch <= config.steps_per_epoch
    assert config.spec.shape[1:] == (config.frames, len(config.channels), config.size, config.size)
    assert TrainConfig.from_json(config.to_json()) == config


def test_unknown_method_lists_valid_ones():
    with pytest.raises(InputError, match="ssl3d"):
        load_config("nope")


def test_unknown_field_is_refused(tmp_path):
    data = load_config("moext").to_json()
    data["learning_rate"] = 1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError, match="learning_rate"):
        load_config(str(path))


def test_bad_channel_is_refused():
    data = load_config("moext").to_json()
    data["channels"] = ["depth"]
    with pytest.raises(ValueError, match="depth"):
        TrainConfig.from_json(data)


def test_flow_compensation_reaches_the_exported_input_spec():
    data = load_config("regional_tcn").to_json()
    assert TrainConfig.from_json(data).spec.flow_compensation == "translation"
    data["flow_compensation"] = "similarity"
    assert TrainConfig.from_json(data).spec.flow_compensation == "similarity"
    data["flow_compensation"] = "affine"
    with pytest.raises(ValueError, match="flow_compensation 'affine'"):
        TrainConfig.from_json(data)


def test_pretrain_videos_can_be_replaced_or_emptied(tmp_path, monkeypatch):
    from export.data import shared_video
    from mer_edge._errors import DatasetError

    assert load_config("moext").pretrain_videos == ("lp_d6.mp4",)
    assert load_config("moext", pretrain_videos=[]).pretrain_videos == ()
    own = tmp_path / "me.mp4"
    assert load_config("moext", pretrain_videos=[own]).pretrain_videos == (str(own),)
    # a user's machine: no shared videos folder; the error says how to go on
    monkeypatch.setenv("MER_EDGE_VIDEOS", str(tmp_path / "absent"))
    with pytest.raises(DatasetError, match="--pretrain-videos"):
        shared_video("lp_d6.mp4")
