"""The model-file contract, data stacking and the default loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from core_support import model_path
from torch.utils.data import TensorDataset

from autoopt import load_task
from autoopt.training.data import load_data
from autoopt.errors import UserError
from autoopt.training.runner import default_loss

MINIMAL = """\
import torch
def build_model():
    return torch.nn.Linear(2, 1)
def datasets():
    x = torch.randn(16, 2)
    return torch.utils.data.TensorDataset(x, x[:, :1]), torch.utils.data.TensorDataset(x, x[:, :1])
"""


def test_model_file_with_build_model_and_datasets_loads_with_defaults(write_model):
    task = load_task(write_model(MINIMAL))
    assert callable(task.build_model) and callable(task.datasets)
    assert (task.loss_fn, task.metric, task.train, task.epochs) == (None, None, None, None)
    assert (task.direction, task.metric_name) == ("minimize", "val_loss")


def test_optional_names_are_read(write_model):
    source = MINIMAL + (
        "direction = 'maximize'\nepochs = 4\n"
        "def loss_fn(output, target):\n    return ((output - target) ** 2).mean()\n"
        "def accuracy(output, target):\n    return 1.0\nmetric = accuracy\n"
    )
    task = load_task(write_model(source))
    assert (task.direction, task.epochs, task.metric_name) == ("maximize", 4, "accuracy")
    assert task.loss_fn is not None


def test_a_train_function_replaces_build_model_and_datasets(write_model):
    task = load_task(write_model("def train(trial):\n    return 0.5\n"))
    assert task.train is not None and task.build_model is None


def test_the_model_file_may_import_its_neighbours(write_model):
    write_model("WIDTH = 3\n", name="mylib.py")
    task = load_task(write_model(MINIMAL.replace("Linear(2, 1)", "Linear(2, __import__('mylib').WIDTH)")))
    assert task.build_model().out_features == 3


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("direction = 'up'\n", "`direction` must be 'minimize' or 'maximize', but got 'up'."),
        ("direction = 'maximize'\n", "`direction = 'maximize'` needs a `metric(output, target)`"),
        ("epochs = 0\n", "`epochs` must be a positive integer, but got 0."),
        ("epochs = True\n", "`epochs` must be a positive integer, but got True."),
        ("loss_fn = 3\n", "`loss_fn` must be a function, but it is a int."),
    ],
)
def test_bad_optional_name_is_rejected_naming_the_file(write_model, extra, message):
    path = write_model(MINIMAL + extra)
    with pytest.raises(UserError) as error:
        load_task(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_a_folder_or_a_non_python_file_is_rejected(tmp_path):
    (tmp_path / "model.txt").write_text("")
    with pytest.raises(UserError, match="is a folder; pass the model file inside it"):
        load_task(tmp_path)
    with pytest.raises(UserError, match="is not a Python file"):
        load_task(tmp_path / "model.txt")


# ---- data ------------------------------------------------------------------------------


class Pairs(torch.utils.data.Dataset):
    """A map-style dataset of (tensor, int) pairs, not a TensorDataset."""

    def __init__(self, n: int, width: int = 3, ragged: bool = False, length: int | None = None) -> None:
        self.n, self.width, self.ragged, self.length = n, width, ragged, length

    def __len__(self) -> int:
        return self.length or self.n

    def __getitem__(self, i: int):
        if i >= self.n:
            raise IndexError(i)
        return torch.full((self.width + (i if self.ragged else 0),), float(i)), i % 2


def test_a_tensor_dataset_is_used_as_is():
    x, y = torch.randn(10, 3), torch.arange(10)
    data = load_data((TensorDataset(x, y), TensorDataset(x, y)), Path("m.py"))
    assert data.train.inputs is x and data.train.targets is y


def test_pairs_are_stacked_into_tensors():
    data = load_data((Pairs(10), Pairs(4)), Path("m.py"))
    assert data.train.inputs.shape == (10, 3) and data.train.targets.tolist() == [i % 2 for i in range(10)]
    assert len(data.valid) == 4


def test_items_of_varying_shape_are_streamed_instead(tmp_path):
    data = load_data((Pairs(6, ragged=True), Pairs(2)), Path("m.py"))
    assert data.train.inputs is None and len(data.train) == 6
    assert [len(batch[0]) for batch in data.train.batches(1, generator=None)] == [1] * 6


def test_batches_cover_every_item_once_in_a_seeded_order():
    data = load_data((Pairs(10), Pairs(2)), Path("m.py"))
    first = [b[1].tolist() for b in data.train.batches(4, generator=torch.Generator().manual_seed(1))]
    again = [b[1].tolist() for b in data.train.batches(4, generator=torch.Generator().manual_seed(1))]
    assert first == again and [len(b) for b in first] == [4, 4, 2]
    seen = torch.cat([b[0][:, 0] for b in data.train.batches(4, generator=torch.Generator().manual_seed(1))])
    assert sorted(seen.tolist()) == [float(i) for i in range(10)]


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        (Pairs(4), "`datasets()` must return (train, validation), two datasets, but returned Pairs of length 4."),
        ((Pairs(4),), "`datasets()` must return (train, validation), two datasets, but returned tuple of length 1."),
        ((Pairs(4), [1, 2]), "the validation dataset's items must be (input, target) pairs, but item 0 is int."),
        ((TensorDataset(torch.zeros(4, 2)), Pairs(2)), "the training dataset's items must be (input, target) pairs"),
        ((Pairs(4), Pairs(0)), "the validation dataset is empty"),
        ((Pairs(4), iter([1])), "the validation dataset must be a map-style Dataset"),
        ((Pairs(4, length=6), Pairs(2)), "the training dataset has length 6, but reading item 4 raised IndexError"),
    ],
)
def test_datasets_of_the_wrong_shape_are_rejected(datasets, message):
    with pytest.raises(UserError) as error:
        load_data(datasets, Path("model.py"))
    assert str(error.value).startswith("model.py: ") and message in str(error.value)


# ---- the default loss ---------------------------------------------------------------------


def test_default_loss_is_cross_entropy_for_integer_targets():
    output, target = torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    torch.testing.assert_close(default_loss(output, target), F.cross_entropy(output, target))


def test_default_loss_is_mse_for_float_targets():
    output, target = torch.randn(5, 1), torch.randn(5, 1)
    torch.testing.assert_close(default_loss(output, target), F.mse_loss(output, target))


def test_kept_model_files_keep_the_contract():
    for name in ("blobs", "line", "crashy", "slow"):
        task = load_task(model_path(name))
        assert task.build_model is not None and task.datasets is not None


SEQUENCE_MODEL = """\
import torch
from torch import nn
epochs = 2

class Tagger(nn.Module):
    # Logits (N, classes, T), as F.cross_entropy takes them for sequences.
    def __init__(self):
        super().__init__()
        self.embed, self.gru, self.out = nn.Embedding(7, 8), nn.GRU(8, 8, batch_first=True), nn.Linear(8, 7)
    def forward(self, x):
        hidden, _ = self.gru(self.embed(x))
        return self.out(hidden).transpose(1, 2)

def build_model():
    return Tagger()

def datasets():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 7, (48, 6), generator=g)
    return torch.utils.data.TensorDataset(x[:32], x[:32].roll(1, 1)), torch.utils.data.TensorDataset(x[32:], x[32:].roll(1, 1))
"""

SEGMENTATION_MODEL = """\
import torch
epochs = 2
def build_model():
    return torch.nn.Conv2d(1, 3, 3, padding=1)  # logits (N, classes, H, W)
def datasets():
    x = torch.randn(24, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long() + (x[:, 0] > 1).long()
    return torch.utils.data.TensorDataset(x[:16], y[:16]), torch.utils.data.TensorDataset(x[16:], y[16:])
"""


@pytest.mark.parametrize("source", [SEQUENCE_MODEL, SEGMENTATION_MODEL], ids=["sequence-NCT", "segmentation-NCHW"])
def test_preflight_accepts_every_shape_cross_entropy_takes_as_class_indices(write_model, source):
    from autoopt.training.preflight import preflight

    task = load_task(write_model(source))
    data = preflight(task, torch.device("cpu"))
    assert data is not None and len(data.train) in (16, 32)


def test_preflight_refuses_class_indices_that_would_not_line_up(write_model):
    from autoopt.training.preflight import preflight

    task = load_task(write_model(SEQUENCE_MODEL.replace("x[:32].roll(1, 1)", "x[:32, :5]")))
    with pytest.raises(UserError, match=r"\(N, classes, d1, \.\.\.\) with targets \(N, d1, \.\.\.\)"):
        preflight(task, torch.device("cpu"))
