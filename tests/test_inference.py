"""The runtime model: verified loading (checksum before ONNX Runtime) and batch prediction."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sampleproject import schema
from sampleproject.errors import SampleProjectError
from sampleproject.inference.model import (
    MODEL_DIR_ENV,
    default_model_dir,
    load_metadata,
    read_verified_model,
    resolve_model_dir,
)
from sampleproject.inference.predictor import Predictor, load_predictor
from tests.conftest import require

SHIPPED = default_model_dir()
DATA = Path(schema.__file__).parent / "data" / "zoo.data"


def shipped_model() -> Path:
    """The shipped model folder (skips, or fails in CI, when it was not trained)."""
    require((SHIPPED / "zoo.json").exists(), "no trained model: run `make train`")
    return SHIPPED


def labelled_rows() -> list[schema.LabelledAnimal]:
    """The shipped data set, validated."""
    with DATA.open(encoding="utf-8", newline="") as file:
        return [
            schema.LabelledAnimal.model_validate(dict(zip(schema.DATA_COLUMNS, row, strict=True)))
            for row in csv.reader(file)
            if row
        ]


@pytest.fixture(name="model_copy")
def model_copy_fixture(tmp_path: Path) -> Path:
    """A copy of the shipped model folder that a test may damage."""
    return Path(shutil.copytree(shipped_model(), tmp_path / "model"))


@pytest.fixture(name="predictor", scope="module")
def predictor_fixture() -> Predictor:
    """The shipped model, loaded once for the module."""
    return load_predictor(shipped_model())


def rewrite_metadata(folder: Path, **changes: object) -> None:
    """Change keys of ``zoo.json`` in ``folder``."""
    path = folder / "zoo.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    metadata.update(changes)
    path.write_text(json.dumps(metadata), encoding="utf-8")


# --- prediction --------------------------------------------------------------------------


def test_the_model_predicts_the_shipped_data_like_its_labels(predictor: Predictor) -> None:
    animals = labelled_rows()
    predictions = predictor.predict([animal.as_row() for animal in animals])
    labels = np.array([animal.type for animal in animals])
    # The model was fitted on these rows: it must agree with nearly all of them, at least as
    # well as its cross-validated accuracy promises.
    agreement = float((predictions.codes == labels).mean())
    assert predictor.metadata.model_extra is not None
    assert agreement >= predictor.metadata.model_extra["metrics"]["accuracy"]


def test_probabilities_are_a_distribution_over_the_classes(predictor: Predictor) -> None:
    rows = [animal.as_row() for animal in labelled_rows()]
    predictions = predictor.predict(rows)
    assert predictions.probabilities.shape == (len(rows), len(schema.CLASS_NAMES))
    np.testing.assert_allclose(predictions.probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The probability reported is the predicted class's column, and the largest one.
    columns = [predictor.class_codes.index(code) for code in predictions.codes.tolist()]
    np.testing.assert_array_equal(
        predictions.probability, predictions.probabilities[np.arange(len(rows)), columns]
    )
    np.testing.assert_allclose(predictions.probability, predictions.probabilities.max(axis=1))
    assert len(predictions) == len(rows)


def test_class_names_come_from_the_metadata_and_match_the_schema(predictor: Predictor) -> None:
    assert dict(zip(predictor.class_codes, predictor.class_names, strict=True)) == (
        schema.CLASS_NAMES
    )
    assert predictor.name_of(1) == "mammal"


def test_an_aardvark_is_a_mammal(predictor: Predictor) -> None:
    aardvark = next(animal for animal in labelled_rows() if animal.animal_name == "aardvark")
    predictions = predictor.predict([aardvark.as_row()])
    assert predictor.name_of(int(predictions.codes[0])) == schema.CLASS_NAMES[aardvark.type]


def test_an_empty_batch_gives_empty_predictions(predictor: Predictor) -> None:
    predictions = predictor.predict(np.zeros((0, len(schema.FEATURES))))
    assert len(predictions) == 0
    assert predictions.probabilities.shape == (0, len(schema.CLASS_NAMES))


@pytest.mark.parametrize("shape", [(3,), (2, 15), (1, 17)])
def test_a_batch_of_the_wrong_shape_is_refused(predictor: Predictor, shape: tuple[int]) -> None:
    with pytest.raises(ValueError, match="expected a"):
        predictor.predict(np.zeros(shape))


def test_rounded_probabilities_are_plain_decimals(predictor: Predictor) -> None:
    predictions = predictor.predict([labelled_rows()[0].as_row()])
    for value in predictions.rounded_probabilities(2)[0].tolist():
        assert value == round(value, 2)
    record = predictor.records(predictions)[0]
    assert record["probability"] == round(float(predictions.probability[0]), 6)
    assert record["probabilities"][record["class_name"]] == record["probability"]


# --- where the model comes from ----------------------------------------------------------


def test_the_model_folder_is_given_else_from_the_environment_else_shipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)
    assert resolve_model_dir() == SHIPPED
    assert SHIPPED == Path(schema.__file__).parent / "model"
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "env"))
    assert resolve_model_dir() == tmp_path / "env"
    assert resolve_model_dir(tmp_path / "flag") == tmp_path / "flag"


# --- refusals ----------------------------------------------------------------------------


def test_a_tampered_model_is_refused_before_it_is_loaded(model_copy: Path) -> None:
    onnx = model_copy / "zoo.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    onnx.write_bytes(bytes(data))
    with pytest.raises(SampleProjectError, match="does not match the SHA-256"):
        load_predictor(model_copy)


def test_a_truncated_model_is_refused(model_copy: Path) -> None:
    onnx = model_copy / "zoo.onnx"
    onnx.write_bytes(onnx.read_bytes()[:100])
    with pytest.raises(SampleProjectError, match="modified or truncated"):
        load_predictor(model_copy)


def test_verification_returns_exactly_the_bytes_it_hashed(model_copy: Path) -> None:
    metadata = load_metadata(model_copy)
    data = read_verified_model(model_copy, metadata)
    assert hashlib.sha256(data).hexdigest() == metadata.model_sha256


def test_a_missing_model_folder_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SampleProjectError, match="run 'sampleproject train'"):
        load_predictor(tmp_path)


def test_a_missing_model_file_is_refused(model_copy: Path) -> None:
    (model_copy / "zoo.onnx").unlink()
    with pytest.raises(SampleProjectError, match="cannot read model"):
        load_predictor(model_copy)


def test_an_unreadable_metadata_file_is_refused(model_copy: Path) -> None:
    (model_copy / "zoo.json").unlink()
    (model_copy / "zoo.json").mkdir()  # exists, but cannot be read as a file
    with pytest.raises(SampleProjectError, match="cannot read"):
        load_predictor(model_copy)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid model metadata"),
        ("[]", "invalid model metadata"),
        ('{"model_file": "zoo.onnx"}', "model_sha256: Field required"),
    ],
)
def test_invalid_metadata_is_refused(model_copy: Path, content: str, message: str) -> None:
    (model_copy / "zoo.json").write_text(content, encoding="utf-8")
    with pytest.raises(SampleProjectError, match=message):
        load_predictor(model_copy)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_sha256": "not a hash"}, "model_sha256"),
        ({"model_file": "../elsewhere.onnx"}, "model_file"),
        ({"features": ["legs"]}, "features do not match"),
        ({"classes": []}, "classes"),
    ],
)
def test_metadata_that_does_not_fit_is_refused(
    model_copy: Path, changes: dict[str, object], message: str
) -> None:
    rewrite_metadata(model_copy, **changes)
    with pytest.raises(SampleProjectError, match=message):
        load_predictor(model_copy)


def test_the_training_distribution_is_read_as_typed_counts() -> None:
    metadata = load_metadata(shipped_model())
    distribution = metadata.training_distribution
    assert distribution is not None
    legs = distribution.feature_proportions("legs")
    assert list(legs) == list(schema.LEG_COUNTS)  # integer values, in the schema's order
    assert sum(legs.values()) == pytest.approx(1.0)
    with DATA.open(encoding="utf-8") as file:
        rows = sum(1 for line in file if line.strip())
    assert distribution.rows == rows
    names = tuple(info.name for info in metadata.classes)
    classes = distribution.class_proportions(names)
    assert list(classes) == list(names)
    assert sum(classes.values()) == pytest.approx(1.0)


def test_a_model_without_a_training_distribution_still_loads(model_copy: Path) -> None:
    path = model_copy / "zoo.json"
    metadata = json.loads(path.read_text(encoding="utf-8"))
    del metadata["training_distribution"]
    path.write_text(json.dumps(metadata), encoding="utf-8")
    assert load_predictor(model_copy).metadata.training_distribution is None


def distribution_with(**changes: object) -> dict[str, object]:
    """The shipped training distribution with some keys changed."""
    metadata = json.loads((shipped_model() / "zoo.json").read_text(encoding="utf-8"))
    distribution: dict[str, object] = metadata["training_distribution"]
    return {**distribution, **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rows": 0}, "rows"),
        ({"features": {"legs": {"4": 1}}}, "not this version's schema features"),
        ({"rows": 1000}, "counts do not add up to 1000 rows"),
        ({"predicted_classes": {"source": "labels", "counts": {"dog": 1}}}, "not the model's"),
    ],
)
def test_a_training_distribution_that_does_not_fit_is_refused(
    model_copy: Path, changes: dict[str, object], message: str
) -> None:
    rewrite_metadata(model_copy, training_distribution=distribution_with(**changes))
    with pytest.raises(SampleProjectError, match=message):
        load_metadata(model_copy)


def test_a_training_distribution_with_values_outside_the_domain_is_refused(
    model_copy: Path,
) -> None:
    features = distribution_with()["features"]
    assert isinstance(features, dict)
    features["legs"] = {**features["legs"], "3": 0}
    rewrite_metadata(model_copy, training_distribution=distribution_with(features=features))
    with pytest.raises(SampleProjectError, match="legs: its values are not 0, 2, 4, 5, 6, 8"):
        load_metadata(model_copy)


def test_a_file_that_is_no_onnx_model_is_refused_even_with_its_checksum(model_copy: Path) -> None:
    garbage = b"this is not an ONNX model"
    (model_copy / "zoo.onnx").write_bytes(garbage)
    rewrite_metadata(model_copy, model_sha256=hashlib.sha256(garbage).hexdigest())
    with pytest.raises(SampleProjectError, match="ONNX Runtime cannot load the model"):
        load_predictor(model_copy)


def test_metadata_naming_other_outputs_is_refused(model_copy: Path) -> None:
    rewrite_metadata(model_copy, outputs={"label": "label", "probabilities": "output_probability"})
    with pytest.raises(SampleProjectError, match="do not match its metadata"):
        load_predictor(model_copy)
