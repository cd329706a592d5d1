"""Each user mistake: exit code 2, one message naming the file or flag and the fix, no traceback,
and no trial lost from a storage that already had some.

These run the console script's ``main()`` in-process (the e2e suite runs two in a subprocess).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from core_support import make_spec, model_path, run_cli_inprocess, trials_of

import autoopt

pytestmark = pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")

KEPT = "kept"

DATA = """\
import torch
from torch.utils.data import TensorDataset
x = torch.randn(32, 4)
"""
PAIR = "def datasets():\n    return TensorDataset(x, y), TensorDataset(x, y)\n"
LINEAR = "def build_model():\n    return torch.nn.Linear(4, 1)\n"
REGRESSION = DATA + "y = torch.randn(32, 1)\n" + PAIR + LINEAR

# (model source, extra flags, the message's fragments after the file's path)
MODEL_MISTAKES = {
    "syntax-error": ("def build_model(:\n", [], ":1: is not valid Python (", "Fix the syntax error"),
    "raises-on-import": ("raise RuntimeError('needs a GPU')\n", [],
                         ": raised RuntimeError while being imported (needs a GPU)", "fix the error"),
    "no-build-model": (DATA + "y = x\n" + PAIR, [], ": defines no `build_model()`.", "def build_model()"),
    "no-datasets": (DATA + LINEAR, [], ": defines no `datasets()`.", "def datasets()"),
    "neither": ("x = 1\n", [], ": defines no `build_model()` and no `datasets()`.", "See README.md"),
    "datasets-not-a-pair": (DATA + "y = x\ndef datasets():\n    return TensorDataset(x, y)\n" + LINEAR, [],
                            ": `datasets()` must return (train, validation), two datasets, but returned TensorDataset"),
    "datasets-raise": (DATA + "def datasets():\n    return 1 / 0\n" + LINEAR, [],
                       ": `datasets()` raised ZeroDivisionError: division by zero (at ", "Fix it so that one batch"),
    "float-target-shape": (DATA + "y = torch.randn(32)\n" + PAIR + LINEAR, [],
                           ": the model's output has shape (8, 1) but the float target has shape (8,)",
                           "define `loss_fn(output, target)`"),
    "integer-target-shape": (DATA + "y = torch.randint(0, 3, (32, 1))\n" + PAIR + LINEAR, [],
                             "default loss is cross-entropy, which needs model output (N, classes) with targets (N,)"),
    "loss-not-scalar": (REGRESSION + "def loss_fn(output, target):\n    return (output - target) ** 2\n", [],
                        ": the loss must be a scalar tensor, but it is (8, 1); reduce it with `.mean()`."),
    "loss-not-a-tensor": (REGRESSION + "def loss_fn(output, target):\n    return 0.5\n", [],
                          ": the loss must be a scalar tensor, but it is float"),
    "build-model-not-a-module": (DATA + "y = x\n" + PAIR + "def build_model():\n    return 3\n", [],
                                 ": `build_model()` must return a torch.nn.Module, but returned int."),
    "metric-not-scalar": (REGRESSION + "def metric(output, target):\n    return output - target\n", [],
                          ": `metric(output, target)` must return a scalar"),
}  # fmt: skip

# (flags, the message's fragments)
FLAG_MISTAKES = {
    "budget-zero": (["--budget", "0"], "--budget must be >= 1 full training, but got 0."),
    "unknown-optimizer": (["--optimizers", "adam,foo"], "--optimizers: unknown optimizer 'foo'; known optimizers: sgd"),
    "range-low-above-high": (["--set", "adam.lr=1e-2:1e-4"],
                             "--set adam.lr: low > high in [0.01, 0.0001]; write the smaller bound first."),
    "log-range-at-zero": (["--set", "adam.lr=0:1e-2"], "--set adam.lr: this range is sampled on a log scale"),
    "set-without-value": (["--set", "adam.lr"], "--set 'adam.lr': write OPTIMIZER.PARAM=LOW:HIGH"),
    "set-not-a-number": (["--set", "adam.lr=fast"], "--set 'adam.lr=fast': 'fast' is not a number"),
    "no-trials": (["--trials", "0"], "--trials must be >= 1, but got 0."),
    "batch-sizes-not-integers": (["--batch-sizes", "32,big"], "--batch-sizes '32,big': a comma-separated list"),
    "storage-unreachable": (["--storage", "postgresql://postgres@127.0.0.1:1/x"],
                            "--storage postgresql", "127.0.0.1:1/x: cannot connect (",
                            "Check that the database server is running"),
    "storage-malformed": (["--storage", "notaurl"], "--storage 'notaurl' is not a database URL"),
    "storage-empty": (["--storage", ""], "--storage is empty; pass a database URL"),  # not the default in disguise
    "storage-folder-missing": (["--storage", "sqlite:////no/such/folder/t.db"], "the folder /no/such/folder does not exist"),
}  # fmt: skip


@pytest.fixture(scope="module")
def kept_storage(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A storage that already holds a finished study: no mistake may lose its trials."""
    url = f"sqlite:///{tmp_path_factory.mktemp('kept') / 'trials.db'}"
    autoopt.search(make_spec("blobs", url, KEPT, trials=2, pruner="none"))
    return url


def fails_cleanly(args: list[str], fragments: tuple[str, ...], kept_storage: str, capsys, monkeypatch) -> str:
    """Run ``autoopt ARGS``; check exit code 2, the message, no traceback, no trial lost."""
    before = [(t.number, t.state, t.value) for t in trials_of(kept_storage, KEPT)]
    code, out, err = run_cli_inprocess(args, capsys, monkeypatch)
    assert code == 2 and out == "" and err.startswith("error: "), err
    assert "Traceback" not in err and err.count("\n") == 1  # one paragraph
    for fragment in fragments:
        assert fragment in err
    assert [(t.number, t.state, t.value) for t in trials_of(kept_storage, KEPT)] == before
    return err


@pytest.mark.parametrize("mistake", list(MODEL_MISTAKES))
def test_broken_model_file_is_named_with_the_fix(mistake, write_model, kept_storage, capsys, monkeypatch):
    source, flags, *fragments = MODEL_MISTAKES[mistake]
    path = write_model(source)
    args = ["search", str(path), "--storage", kept_storage, "--study", KEPT, *flags]
    err = fails_cleanly(args, tuple(fragments), kept_storage, capsys, monkeypatch)
    assert err.startswith(f"error: {path}")


def test_missing_model_file_is_named(tmp_path, kept_storage, capsys, monkeypatch):
    args = ["search", str(tmp_path / "modle.py"), "--storage", kept_storage, "--study", KEPT]
    fails_cleanly(args, (f"{tmp_path / 'modle.py'}: no such model file.",), kept_storage, capsys, monkeypatch)


@pytest.mark.parametrize("mistake", list(FLAG_MISTAKES))
def test_bad_flag_is_named_with_the_fix(mistake, kept_storage, capsys, monkeypatch):
    flags, *fragments = FLAG_MISTAKES[mistake]
    args = ["search", str(model_path("blobs")), "--storage", kept_storage, "--study", KEPT, *flags]
    fails_cleanly(args, tuple(fragments), kept_storage, capsys, monkeypatch)


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[space.adam]\nlr = [1e-2, 1e-4]\n", "[space].adam.lr: low > high in [0.01, 0.0001]"),
        ("[space.adam]\nlr = [0.0, 1e-2]\n", "[space].adam.lr: this range is sampled on a log scale"),
        ("[space]\noptimizers = ['adam', 'foo']\n", "[space].optimizers: unknown optimizer 'foo'"),
    ],
)
def test_bad_study_file_is_named_with_the_field(toml, fragment, tmp_path, kept_storage, capsys, monkeypatch):
    study_file = tmp_path / "study.toml"
    study_file.write_text(toml)
    args = ["search", str(model_path("blobs")), "--config", str(study_file), "--storage", kept_storage, "--study", KEPT]
    fails_cleanly(args, (f"{study_file}: {fragment}",), kept_storage, capsys, monkeypatch)


def test_maximizing_into_a_minimizing_study_is_refused(kept_storage, write_model, capsys, monkeypatch):
    source = REGRESSION + "direction = 'maximize'\ndef metric(output, target):\n    return -(output - target).abs().mean()\n"
    args = ["search", str(write_model(source)), "--storage", kept_storage, "--study", KEPT]
    fails_cleanly(args, (f"study '{KEPT}' in --storage already exists and minimizes", "pick another --study name"),
                  kept_storage, capsys, monkeypatch)  # fmt: skip


@pytest.mark.parametrize("command", [["recommend", "nosuch"], ["trials", "nosuch"], ["report", "nosuch"]])
def test_unknown_study_is_one_message_everywhere(command, kept_storage, capsys, monkeypatch):
    err = fails_cleanly([*command, "--storage", kept_storage], (), kept_storage, capsys, monkeypatch)
    assert err == (f"error: no study named 'nosuch' in {kept_storage} (studies there: '{KEPT}'). Check the name, "
                   "pass the --storage your search wrote to, or run `autoopt search` first.\n")  # fmt: skip


READING_COMMANDS = [["studies"], ["trials", KEPT], ["recommend", KEPT], ["report", KEPT], ["dashboard", "--port", "0"]]


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda command: command[0])
def test_reading_a_mistyped_sqlite_file_creates_nothing(command, kept_storage, capsys, monkeypatch):
    kept = kept_storage.removeprefix("sqlite:///")
    typo = kept.replace("trials.db", "trails.db")
    err = fails_cleanly([*command, "--storage", f"sqlite:///{typo}"], (f"there is no database at {typo} (SQLite files in ",
                        ": trials.db)", "only `autoopt search` creates a database"), kept_storage, capsys, monkeypatch)  # fmt: skip
    assert err.startswith(f"error: --storage sqlite:///{typo}: ")
    assert sorted(p.name for p in Path(kept).parent.iterdir() if p.suffix == ".db") == ["trials.db"]


@pytest.mark.parametrize(("command", "fragment"), [(["recommend", KEPT, "--format", "yaml"], "--format must be text or json"),
                                                   (["trials", KEPT, "--format", "xml"], "--format must be table, csv or json")])  # fmt: skip
def test_unknown_output_format_is_named(command, fragment, kept_storage, capsys, monkeypatch):
    fails_cleanly([*command, "--storage", kept_storage], (fragment,), kept_storage, capsys, monkeypatch)
