"""Parameters: strict YAML, typed validation, secrets refused, and the notebook contract."""

from __future__ import annotations

import dataclasses
import json

import nbformat
import papermill
import pytest

from autochart import config
from autochart.exceptions import NotebookContractError, ParameterError
from autochart.paths import DEFAULT_PARAMS, NOTEBOOK

from .conftest import CASES, run_cli


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(ParameterError) as caught:
        config.validate(raw)
    return caught.value.problems


# --- BR-13: YAML 1.1 surprises --------------------------------------------------------------


def test_br13_tickers_and_dates_stay_strings():
    raw = config.load_yaml_file(CASES / "BR-13" / "params.yaml")
    assert raw["tickers"] == ["AAA", "ON"]
    assert raw["start_date"] == "2024-01-02"
    assert raw["years"] == "5"


def test_br13_each_bad_key_is_named_with_a_suggestion():
    problems = problems_of(config.load_yaml_file(CASES / "BR-13" / "params.yaml"))
    text = "\n".join(problems)
    assert "start_date: unknown parameter; did you mean 'start'?" in text
    assert "years: unknown parameter; did you mean 'lookback_years'?" in text
    assert len(problems) == 2


def test_br13_corrected_keys_pass_as_strings_and_ints():
    params = config.validate({"tickers": ["AAA", "ON"], "start": "2024-01-02", "bins": 50})
    assert params.tickers == ["AAA", "ON"]
    assert params.start == "2024-01-02"
    json.dumps(params.to_notebook())  # papermill must be able to serialise every value


def test_br13_string_where_an_int_belongs_is_rejected_by_name():
    problems = problems_of({"lookback_years": "5"})
    assert problems == ["lookback_years must be a positive integer, got '5' (str)"]


def test_br13_whole_run_exits_2_before_any_kernel(tmp_path):
    code = run_cli(tmp_path, "start_date", "2024-01-02")
    assert code == 2
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("word", ["ON", "NO", "Y", "off", "yes"])
def test_yaml11_boolean_words_stay_tickers(word):
    assert config.parse_yaml(f"[AAA, {word}]") == ["AAA", word]


def test_non_string_ticker_is_named_by_position():
    problems = problems_of({"tickers": ["AAA", 7203]})
    assert problems[0].startswith("tickers[1] is 7203 (int), not a ticker string: quote it")


# --- BR-15: secrets ---------------------------------------------------------------------------


def test_br15_token_in_params_is_refused():
    raw = config.load_yaml_file(CASES / "BR-15" / "params.yaml")
    problems = problems_of(raw)
    assert len(problems) == 1
    assert problems[0].startswith("token: secrets are not read from parameters")
    assert "pk_TEST_fake_token_0000" not in problems[0]


@pytest.mark.parametrize("key", ["api_key", "apikey", "aws_secret_access_key", "password"])
def test_secret_looking_keys_are_refused(key):
    assert problems_of({key: "x"})[0].startswith(f"{key}: secrets are not read")


def test_token_inside_base_url_is_refused():
    problems = problems_of({"base_url": "https://example.test/stable?token=pk_live_123"})
    assert "base_url contains a token" in problems[0]
    assert "pk_live_123" not in problems[0]


# --- overrides and types ----------------------------------------------------------------------


def test_override_values_are_read_as_yaml(tmp_path):
    (tmp_path / "data").mkdir()
    params = config.load(
        None,
        [
            ("tickers", "[JPM, BAC]"),
            ("bins", "30"),
            ("end", "2024-03-08"),
            ("csv_dir", "data"),
            ("source", "csv"),
        ],
        cwd=tmp_path,
    )
    assert params.tickers == ["JPM", "BAC"]
    assert params.bins == 30
    assert params.end == "2024-03-08"
    assert params.csv_dir == str(tmp_path / "data")  # -p paths are relative to the caller


def test_file_paths_are_relative_to_the_params_file(tmp_path):
    (tmp_path / "conf" / "prices").mkdir(parents=True)
    file = tmp_path / "conf" / "params.yaml"
    file.write_text("source: csv\ncsv_dir: prices\noutput_dir: out\n")
    params = config.load(file, cwd=tmp_path)
    assert params.csv_dir == str(tmp_path / "conf" / "prices")
    assert params.output_dir == str(tmp_path / "conf" / "out")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"bins": 0}, "bins must be an integer from 1 to 1000"),
        ({"bins": True}, "bins must be an integer from 1 to 1000"),
        ({"bins": 100_000_000}, "bins must be an integer from 1 to 1000"),
        ({"dpi": 100_000}, "dpi must be an integer from 10 to 600"),
        ({"base_url": "https://user:pass@iex.example/stable"}, "base_url contains a user name or password"),
        ({"start": "2024-13-01"}, "start must be an ISO date YYYY-MM-DD"),
        ({"price": "open"}, "price must be one of adjusted, close"),
        ({"source": "bloomberg"}, "source 'bloomberg' is not a known source; known: sample, csv"),
        ({"figsize": [12]}, "figsize must be [width, height]"),
        ({"tickers": []}, "tickers must be a non-empty list"),
        ({"tickers": ["AAA", "aaa"]}, "tickers[1] AAA is listed twice"),
        ({"scatter_tickers": ["XYZ"]}, "scatter_tickers XYZ not in tickers"),
        ({"start": "2024-02-01", "end": "2024-01-01"}, "start 2024-02-01 is after end 2024-01-01"),
        ({"source": "csv"}, "csv_dir must be set when source is csv"),
    ],
)
def test_bad_values_name_the_key(raw, expected):
    assert any(p.startswith(expected) for p in problems_of(raw)), problems_of(raw)


def test_malformed_yaml_file_names_the_file(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_text("tickers: [AAA, BBB\n")
    with pytest.raises(ParameterError) as caught:
        config.load(file)
    assert str(file) in str(caught.value)
    assert "not valid YAML" in str(caught.value)


def test_a_list_instead_of_a_mapping_is_refused(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_text("- AAA\n- BBB\n")
    with pytest.raises(ParameterError, match="must be a mapping"):
        config.load(file)


# --- the notebook contract --------------------------------------------------------------------


def test_params_yaml_documents_every_parameter_with_the_embedded_defaults():
    raw = config.load_yaml_file(DEFAULT_PARAMS)
    assert list(raw) == list(config.PARAMETER_NAMES)
    defaults = dataclasses.asdict(config.Params())
    assert config.validate(raw).to_notebook() == defaults


def test_notebook_declares_every_parameter_with_the_same_default():
    declared = papermill.inspect_notebook(str(NOTEBOOK))
    assert list(declared) == list(config.PARAMETER_NAMES)
    defaults = config.Params().to_notebook()
    for name, info in declared.items():
        assert eval(info["default"]) == defaults[name] or (  # noqa: S307 - our own literals
            info["default"] == "None" and defaults[name] is None
        ), name


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.parametrize("tag_count", [0, 2])
def test_notebook_needs_exactly_one_parameters_cell(tmp_path, tag_count):
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    for cell in nb.cells:
        cell.metadata["tags"] = []
    for cell in [c for c in nb.cells if c.cell_type == "code"][:tag_count]:
        cell.metadata["tags"] = ["parameters"]
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nb, str(broken))
    with pytest.raises(NotebookContractError, match=f"found {tag_count}"):
        config.check_notebook(broken)


def test_a_repeated_key_is_refused(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_text("tickers: [AAPL]\ntickers: [MSFT]\n")
    with pytest.raises(ParameterError, match="key 'tickers' appears twice"):
        config.load(file)


def test_a_binary_params_file_is_refused_by_name(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ParameterError, match="not a text file"):
        config.load(file)


def test_a_bad_override_is_not_blamed_on_the_file(tmp_path):
    file = tmp_path / "params.yaml"
    file.write_text("bins: 50\n")
    with pytest.raises(ParameterError) as caught:
        config.load(file, [("bins", "abc")])
    assert str(caught.value).startswith(f"{file} with -p bins has 1 problem(s)")


def test_csv_dir_must_be_an_existing_folder_before_any_kernel(tmp_path):
    with pytest.raises(ParameterError, match="is not a folder"):
        config.load(None, [("source", "csv"), ("csv_dir", "no-such-folder")], cwd=tmp_path)


def test_runner_without_the_project_packages_says_what_to_do():
    import subprocess
    import sys

    from autochart.paths import RUNNER_SCRIPT

    done = subprocess.run(
        [sys.executable, "-I", "-S", str(RUNNER_SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 8
    assert "run `make run` once" in done.stderr and "Traceback" not in done.stderr
