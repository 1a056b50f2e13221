"""``sampleproject drift``: PSI, value counts, the command's reports, plots, rules and errors."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sampleproject import cli, schema
from sampleproject.errors import INSTALL_TRAIN_EXTRA
from sampleproject.inference.model import MODEL_DIR_ENV, default_model_dir, load_metadata
from sampleproject.monitoring import psi
from sampleproject.monitoring.counting import SLOTS, by_feature, count_values
from sampleproject.monitoring.sources import observe_scrape
from tests.conftest import ROOT, require

DATA = Path(schema.__file__).parent / "data" / "zoo.data"
DRIFTED = ROOT / "docs" / "examples" / "drifted-animals.csv"
RULES = ROOT / "deploy" / "prometheus" / "training-distribution.yml"


@pytest.fixture(autouse=True)
def _shipped_model(monkeypatch: pytest.MonkeyPatch) -> None:
    require((default_model_dir() / "zoo.json").exists(), "no trained model: run `make train`")
    monkeypatch.delenv(MODEL_DIR_ENV, raising=False)


def run(
    args: list[str],
    capsys: pytest.CaptureFixture[str],
    stdin: str | None = None,
    monkeypatch: pytest.MonkeyPatch | None = None,
) -> tuple[int, str, str]:
    """``sampleproject drift ARGS`` in-process: (exit status, stdout, stderr)."""
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    try:
        status = cli.main(["drift", *args])
    except SystemExit as exit_:  # argparse's errors
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def training_rows() -> list[list[str]]:
    """The shipped data's rows (name, 16 features, class)."""
    with DATA.open(encoding="utf-8", newline="") as file:
        return [row for row in csv.reader(file) if row]


def write_animals(path: Path, rows: list[list[str]]) -> Path:
    """A CSV input file of ``rows`` (the class column left out)."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow([schema.NAME_COLUMN, *schema.FEATURES])
        writer.writerows(row[:-1] for row in rows)
    return path


def scrape_text(legs: dict[int, int], rows: int, classes: dict[str, int] | None = None) -> str:
    """A /metrics text as ``serve`` writes it: ``rows`` animals with ``legs``, flags all 0."""
    lines = [
        "# HELP sampleproject_input_values_total Animals received, by feature and value",
        "# TYPE sampleproject_input_values_total counter",
    ]
    for name, values in schema.FEATURE_VALUES.items():
        for value in values:
            count = legs.get(value, 0) if name == "legs" else (rows if value == 0 else 0)
            lines.append(
                f'sampleproject_input_values_total{{feature="{name}",value="{value}"}} {count}.0'
            )
    lines += ["# TYPE sampleproject_predictions_total counter"]
    for name, count in (classes or {}).items():
        lines.append(f'sampleproject_predictions_total{{class_name="{name}"}} {count}.0')
    return "\n".join(lines) + "\n"


# --- PSI ---------------------------------------------------------------------------------


def test_identical_distributions_have_a_psi_of_zero() -> None:
    assert psi.psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_the_psi_is_the_sum_of_each_bins_term_and_symmetric() -> None:
    expected, actual = [0.5, 0.5], [0.8, 0.2]
    by_hand = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi.psi(expected, actual) == pytest.approx(by_hand)
    assert psi.psi(expected=actual, actual=expected) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(0.4159, abs=1e-4)


def test_an_empty_bin_is_floored_at_epsilon_instead_of_infinite() -> None:
    value = psi.psi([1.0, 0.0], [0.7, 0.3])
    floored = (0.7 - 1.0) * math.log(0.7) + (0.3 - psi.EPSILON) * math.log(0.3 / psi.EPSILON)
    assert math.isfinite(value)
    assert value == pytest.approx(floored)


def test_bins_must_match() -> None:
    with pytest.raises(ValueError, match="same bins"):
        psi.psi([1.0], [0.5, 0.5])


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (0.0, "stable"),
        (0.099, "stable"),
        (0.1, "moderate"),
        (0.25, "moderate"),
        (0.26, "significant"),
    ],
)
def test_the_usual_thresholds_name_the_level(value: float, level: str) -> None:
    assert psi.level(value) == level


def test_proportions_of_nothing_are_zero() -> None:
    assert psi.proportions([0, 0]) == [0.0, 0.0]
    assert psi.proportions([1, 3]) == [0.25, 0.75]


# --- value counts ------------------------------------------------------------------------


def test_there_is_one_slot_per_value_of_every_feature() -> None:
    assert len(SLOTS) == 15 * 2 + len(schema.LEG_COUNTS)
    assert SLOTS[:2] == (("hair", 0), ("hair", 1))


def test_vectorised_counts_equal_a_count_animal_by_animal() -> None:
    generator = np.random.default_rng(3)
    batch = generator.integers(0, 2, size=(500, 16))
    batch[:, schema.FEATURES.index("legs")] = generator.choice(schema.LEG_COUNTS, size=500)
    counted = by_feature(count_values(batch.astype(np.float32)))
    for column, name in enumerate(schema.FEATURES):
        for value in schema.FEATURE_VALUES[name]:
            assert counted[name][value] == sum(1 for row in batch if row[column] == value)


def test_an_empty_batch_counts_nothing() -> None:
    assert not count_values(np.zeros((0, 16), dtype=np.float32)).any()


# --- the command, on files ---------------------------------------------------------------


def test_the_training_data_itself_shows_no_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run([str(write_animals(tmp_path / "a.csv", training_rows()))], capsys)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("101 animals from ")
    features = {line.split()[0]: float(line.split()[1]) for line in lines[2:-1]}
    assert list(features) == [*schema.FEATURES, "predicted_class"]
    assert all(features[name] == 0.0 for name in schema.FEATURES)  # the same rows exactly
    assert features["predicted_class"] < psi.MODERATE  # vs. the cross-validated predictions
    assert lines[-1] == "no drift: every PSI is at most the threshold 0.25"


def test_a_drifted_batch_exits_1_and_names_the_drifted_features(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run([str(DRIFTED)], capsys)
    assert status == 1
    assert "feathers" in out.splitlines()[-1]
    assert "legs" in out.splitlines()[-1]
    assert out.splitlines()[-1].startswith("drift: ")
    legs = next(line for line in out.splitlines() if line.startswith("legs "))
    assert legs.endswith("significant  above the threshold")


def test_the_threshold_decides_the_exit_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mammals = [row for row in training_rows() if row[-1] == "1"]
    path = write_animals(tmp_path / "mammals.jsonl.csv", mammals)
    status, out, _ = run([str(path), "--json"], capsys)
    report = json.loads(out)
    highest = max(report["psi"].values())
    assert status == 1
    assert report["above_threshold"]
    assert run([str(path), "--threshold", str(highest + 0.01)], capsys)[0] == 0
    assert run([str(path), "--threshold", str(highest - 0.01)], capsys)[0] == 1


def test_the_json_report_has_every_feature_and_the_classes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run([str(DRIFTED), "--json"], capsys)
    report = json.loads(out)
    assert status == 1
    assert report["animals"] == len(DRIFTED.read_text(encoding="utf-8").splitlines()) - 1
    assert report["training_rows"] == len(training_rows())
    assert list(report["psi"]) == [*schema.FEATURES, "predicted_class"]
    assert report["above_threshold"] == [
        name for name, value in report["psi"].items() if value > 0.25
    ]


def test_stdin_in_json_lines_is_read_like_predict_reads_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bird = {"feathers": 1, "eggs": 1, "airborne": 1, "backbone": 1, "breathes": 1, "legs": 2}
    status, out, _ = run(["-", "--json"], capsys, json.dumps(bird) + "\n", monkeypatch)
    report = json.loads(out)
    assert status == 1
    assert report["animals"] == 1
    assert report["source"] == "<stdin>"


# --- the command, on scrapes -------------------------------------------------------------


def test_a_saved_scrape_is_compared_like_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = load_metadata(default_model_dir()).training_distribution
    assert reference is not None
    legs = reference.features["legs"]  # the training counts: no drift in legs
    rows = reference.rows
    path = tmp_path / "metrics.txt"
    path.write_text(scrape_text(legs, rows, {"mammal": 3, "bird": 1}), encoding="utf-8")
    status, out, _ = run(["--metrics", str(path), "--json"], capsys)
    report = json.loads(out)
    assert status == 1  # every flag is 0: far from the training data
    assert report["animals"] == rows
    assert report["psi"]["legs"] == 0.0
    assert report["psi"]["hair"] > psi.SIGNIFICANT
    assert "predicted_class" in report["psi"]


def test_scrape_counts_of_several_series_add_up() -> None:
    text = scrape_text({4: 2}, 2) + scrape_text({4: 1, 2: 1}, 2).replace("# TYPE", "# X")
    observed = observe_scrape(text.replace("# X", "# HELP x"), "two.txt")
    assert observed.features["legs"] == {0: 0, 2: 1, 4: 3, 5: 0, 6: 0, 8: 0}
    assert observed.animals == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# TYPE other_total counter\nother_total 3\n", "no sampleproject_input_values_total"),
        ("<html>not metrics</html>\n", "not Prometheus' text format"),
        (scrape_text({}, 0), "no animals counted yet"),
        ('sampleproject_input_values_total{feature="wings",value="2"} 1\n', "unknown series"),
        ('sampleproject_input_values_total{feature="legs",value="3"} 1\n', "unknown series"),
    ],
)
def test_a_scrape_that_is_not_serves_metrics_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "metrics.txt"
    path.write_text(text, encoding="utf-8")
    status, out, err = run(["--metrics", str(path)], capsys)
    assert (status, out) == (2, "")
    assert err.startswith("sampleproject: error: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_an_unreachable_metrics_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, _, err = run(["--metrics", f"http://127.0.0.1:{port}/metrics"], capsys)
    assert status == 2
    assert err.startswith(f"sampleproject: error: cannot scrape http://127.0.0.1:{port}/metrics")
    assert len(err.splitlines()) == 1


# --- usage errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give one of FILE, --metrics URL|FILE or --write-rules FILE"),
        (["a.csv", "--metrics", "m.txt"], "give one of"),
        (["--metrics", "m.txt", "--input-format", "csv"], "--input-format needs a FILE"),
        (["a.csv", "--threshold", "0"], "--threshold must be above 0"),
        (["a.csv", "--threshold", "nan"], "--threshold must be above 0"),
        (["--write-rules", "r.yml", "--json"], "--write-rules writes rules only"),
        (["missing.csv"], "cannot read missing.csv"),
        (["animals.txt"], "cannot tell the format of animals.txt"),
        (["--metrics", "missing.txt"], "cannot read missing.txt"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "animals.txt").write_text("x\n", encoding="utf-8")
    status, out, err = run(args, capsys)
    assert (status, out) == (2, "")
    assert message in err
    assert len(err.splitlines()) == 1
    assert "Traceback" not in err


def test_a_bad_row_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = training_rows()[:3]
    rows[1] = [*rows[1][:13], "3", *rows[1][14:]]  # legs = 3: off the domain
    status, _, err = run([str(write_animals(tmp_path / "a.csv", rows))], capsys)
    assert status == 2
    assert "a.csv line 3, column legs: legs must be one of 0, 2, 4, 5, 6, 8" in err


def test_an_empty_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_animals(tmp_path / "a.csv", [])
    status, _, err = run([str(path)], capsys)
    assert status == 2
    assert "no animals to compare" in err


def test_a_model_without_a_training_distribution_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = Path(shutil.copytree(default_model_dir(), tmp_path / "model"))
    metadata = json.loads((model / "zoo.json").read_text(encoding="utf-8"))
    del metadata["training_distribution"]
    (model / "zoo.json").write_text(json.dumps(metadata), encoding="utf-8")
    status, _, err = run([str(DRIFTED), "--model-dir", str(model)], capsys)
    assert status == 2
    assert "has no training distribution" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "zoo-classifier"], "models:/"),
        (["--model", "models:/zoo@champion", "--model-dir", "m"], "not allowed with argument"),
    ],
)
def test_a_bad_registry_reference_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, out, err = run([str(DRIFTED), *args], capsys)
    assert (status, out) == (2, "")
    assert message in err
    assert len(err.splitlines()) == 1


def test_a_broken_model_exits_2_not_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run([str(DRIFTED), "--model-dir", str(tmp_path)], capsys)
    assert status == 2
    assert "no model in" in err


# --- plot --------------------------------------------------------------------------------


@pytest.mark.slow  # two real drawings: seconds
def test_the_plot_is_a_png_and_the_same_report_gives_the_same_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from matplotlib.image import imread

    first, second = tmp_path / "1.png", tmp_path / "2.png"
    assert run([str(DRIFTED), "--plot", str(first)], capsys)[0] == 1
    assert run([str(DRIFTED), "--plot", str(second)], capsys)[0] == 1
    assert first.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width, _ = imread(first).shape
    assert width > height > 400
    assert first.read_bytes() == second.read_bytes()


def test_the_plot_without_matplotlib_says_what_to_install_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    status, out, err = run(["missing.csv", "--plot", str(tmp_path / "p.png")], capsys)
    assert (status, out) == (2, "")
    assert err == (
        "sampleproject: error: --plot needs matplotlib, which the runtime does not install: "
        f"{INSTALL_TRAIN_EXTRA}\n"
    )


@pytest.mark.parametrize("option", ["--plot", "--write-rules"])
def test_writing_into_a_missing_folder_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    target = tmp_path / "no" / "out"
    args = [option, str(target)] if option == "--write-rules" else ["x.csv", option, str(target)]
    status, out, err = run(args, capsys)
    assert (status, out) == (2, "")
    assert err.startswith(f"sampleproject: error: {option} {target}: no such folder")


@pytest.mark.slow  # draws the plot before the write fails
def test_a_plot_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "taken").mkdir()  # a folder where the file should go
    status, _, err = run([str(DRIFTED), "--plot", str(tmp_path / "taken")], capsys)
    assert status == 2
    assert err.startswith(f"sampleproject: error: cannot write {tmp_path}")


# --- recording rules ---------------------------------------------------------------------


def test_the_committed_rules_are_those_of_the_current_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = tmp_path / "rules.yml"
    assert run(["--write-rules", str(written)], capsys)[0] == 0
    # If this fails, the training data or configuration changed: write the file again
    # (sampleproject drift --write-rules deploy/prometheus/training-distribution.yml).
    assert written.read_text(encoding="utf-8") == RULES.read_text(encoding="utf-8")


def test_the_rules_hold_every_training_proportion() -> None:
    yaml = pytest.importorskip("yaml")
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"][0]["rules"]
    features = [rule for rule in rules if rule["record"] == "sampleproject:training_proportion"]
    classes = [
        rule for rule in rules if rule["record"] == "sampleproject:training_class_proportion"
    ]
    assert len(features) == len(SLOTS)
    assert len(classes) == len(schema.CLASS_NAMES)
    reference = load_metadata(default_model_dir()).training_distribution
    assert reference is not None
    for rule in features:
        feature, value = rule["labels"]["feature"], int(rule["labels"]["value"])
        share = float(rule["expr"].removeprefix("vector(").removesuffix(")"))
        assert share == pytest.approx(reference.feature_proportions(feature)[value], abs=1e-6)
    legs = [rule for rule in features if rule["labels"]["feature"] == "legs"]
    assert sum(float(rule["expr"][7:-1]) for rule in legs) == pytest.approx(1.0, abs=1e-5)


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\nfrom sampleproject.cli import main\n"
        "try:\n    main(['drift', '--help'])\n"
        "except SystemExit as done:\n    assert done.code == 0\n"
        "heavy = ('numpy', 'onnxruntime', 'pydantic', 'matplotlib', 'prometheus_client')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "Population Stability Index" in result.stdout
    assert result.stdout.rstrip().endswith("[]")
