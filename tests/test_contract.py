"""The model contract: written by the exporter, checked by the device on load."""

import json

import pytest

from device.core import encoding
from device.core.contract import Contract, ContractError, InputSpec, StateSpec, TensorSpec, load_contract, sha256_of


def write_model(tmp_path, payload=b"TFL3 model bytes", **overrides):
    model = tmp_path / "m.tflite"
    model.write_bytes(payload)
    fields = dict(
        token=TensorSpec("token", (1, 1), "int32"),
        logits=TensorSpec("logits", (1, encoding.VOCAB_SIZE), "float32"),
        states=(StateSpec("h1", "h1_out", (1, 8)), StateSpec("c1", "c1_out", (1, 8))),
        precision="float32",
        pitch_range=(48, 84),
        tflite_sha256=sha256_of(model),
        tflite_file=model.name,
        tflite_bytes=len(payload),
    )
    fields.update(overrides)
    Contract(**fields).save(model.with_suffix(".json"))
    return model


LOOKBACK_INPUTS = (InputSpec("lookback", (1, 4), "int32", "lookback"),
                   InputSpec("bar_position", (1, 5), "float32", "bar_position"),
                   InputSpec("repeats", (1, 4), "float32", "repeats"))


def edit_json(model, change):
    path = model.with_suffix(".json")
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_saved_contract_loads_back_equal(tmp_path):
    model = write_model(tmp_path)
    contract = load_contract(model)
    assert contract.states[1] == StateSpec("c1", "c1_out", (1, 8), "float32")
    assert contract.pitch_range == (48, 84)
    assert json.loads(model.with_suffix(".json").read_text())["encoding"]["no_event"] == encoding.NO_EVENT


def test_missing_contract_names_the_file(tmp_path):
    model = tmp_path / "lonely.tflite"
    model.write_bytes(b"x")
    with pytest.raises(ContractError, match="lonely.json: contract not found"):
        load_contract(model)


def test_truncated_model_is_refused(tmp_path):
    model = write_model(tmp_path)
    model.write_bytes(model.read_bytes()[:5])
    with pytest.raises(ContractError, match="5 bytes, but its contract records 16"):
        load_contract(model)


def test_a_different_model_with_the_same_size_is_refused(tmp_path):
    model = write_model(tmp_path)
    model.write_bytes(b"X" * model.stat().st_size)
    with pytest.raises(ContractError, match="SHA-256"):
        load_contract(model)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["encoding"].update(vocab_size=131), r"'encoding.vocab_size' is 131"),
        (lambda d: d["encoding"].update(no_event=128), r"'encoding.no_event' is 128"),
        (lambda d: d["encoding"].update(steps_per_quarter=3), r"'encoding.steps_per_quarter' is 3"),
        (lambda d: d.update(format_version=9), r"'format_version' is 9"),
        (lambda d: d.update(precision="int4"), r"'precision' is 'int4'"),
        (lambda d: d["tensors"]["logits"].update(shape=[1, 129]), r"'tensors.logits.shape' is \[1, 129\]"),
        (lambda d: d["tensors"].update(states=[]), r"'tensors.states' is empty"),
        (lambda d: d.pop("tensors"), r"malformed contract \(KeyError"),
    ],
)
def test_a_contract_that_does_not_match_the_encoding_says_what_and_where(tmp_path, change, message):
    model = write_model(tmp_path)
    edit_json(model, change)
    with pytest.raises(ContractError, match=message) as error:
        load_contract(model)
    assert "m.json" in str(error.value)


def test_a_contract_that_is_not_json_is_refused(tmp_path):
    model = write_model(tmp_path)
    model.with_suffix(".json").write_text("{not json")
    with pytest.raises(ContractError, match="not readable JSON"):
        load_contract(model)


def test_a_token_only_contract_is_written_as_format_1_without_inputs(tmp_path):
    data = json.loads(write_model(tmp_path).with_suffix(".json").read_text())
    assert data["format_version"] == 1
    assert "inputs" not in data["tensors"]


def test_a_token_only_contract_has_the_token_as_its_only_input(tmp_path):
    assert load_contract(write_model(tmp_path)).inputs == (InputSpec("token", (1, 1), "int32", "token"),)


def test_a_contract_with_features_names_every_input_and_its_feature(tmp_path):
    model = write_model(tmp_path, features=LOOKBACK_INPUTS)
    data = json.loads(model.with_suffix(".json").read_text())
    assert data["format_version"] == 2
    assert [(i["name"], i["shape"], i["dtype"], i["feature"]) for i in data["tensors"]["inputs"]] == [
        ("token", [1, 1], "int32", "token"), ("lookback", [1, 4], "int32", "lookback"),
        ("bar_position", [1, 5], "float32", "bar_position"), ("repeats", [1, 4], "float32", "repeats")]
    assert load_contract(model).features == LOOKBACK_INPUTS


def unknown_feature(data):
    data["tensors"]["inputs"][1].update(feature="chord")


def another_shape(data):
    data["tensors"]["inputs"][2].update(shape=[1, 7])


def lookback_of_three_bars(data):
    data["tensors"]["inputs"][1].update(shape=[1, 3])  # a model made when the lookback reached 4 bars back


def token_not_first(data):
    data["tensors"]["inputs"].reverse()


def feature_twice(data):
    data["tensors"]["inputs"][3] = dict(data["tensors"]["inputs"][1], name="lookback2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (unknown_feature, r"input 'lookback' holds feature 'chord', which this box cannot compute \(it can feed "
                          r"\['lookback', 'bar_position', 'repeats'\]\)"),
        (another_shape, r"input 'bar_position' \(bar_position\) is float32 \[1, 7\], this box feeds float32 "
                        r"\[1, 5\]"),
        (lookback_of_three_bars, r"input 'lookback' \(lookback\) is int32 \[1, 3\], this box feeds int32 \[1, 4\] "
                                 r"\(tokens 1, 2, 4 and 8 bars before the predicted step; 130 = none\); retrain the "
                                 r"model with this version"),
        (token_not_first, r"'tensors.inputs' must begin with the token 'token'"),
        (feature_twice, r"'tensors.inputs' names a feature twice"),
    ],
)
def test_a_model_whose_inputs_the_box_cannot_feed_is_refused_naming_the_file(tmp_path, change, message):
    model = write_model(tmp_path, features=LOOKBACK_INPUTS)
    edit_json(model, change)
    with pytest.raises(ContractError, match=message) as error:
        load_contract(model)
    assert "m.json" in str(error.value)
