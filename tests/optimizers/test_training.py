"""On a real task (scikit-learn's digits, a small MLP) each registry optimizer at its defaults learns."""

from __future__ import annotations

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

from autoopt.optimizers import build, registry

STEPS, BATCH = 300, 64


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = load_digits(return_X_y=True)  # bundled with scikit-learn: no download
    return torch.tensor(images / 16.0, dtype=torch.float32), torch.tensor(labels)


def _train(digits, name: str, lookahead: dict | None = None, **kwargs) -> tuple[float, float]:
    images, labels = digits
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = build(model.parameters(), name, {**registry.get(name).defaults, **kwargs}, lookahead=lookahead)
    loss = nn.CrossEntropyLoss()
    with torch.no_grad():
        before = loss(model(images), labels).item()
    batches = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        index = torch.randint(0, len(images), (BATCH,), generator=batches)
        optimizer.zero_grad()
        loss(model(images[index]), labels[index]).backward()
        optimizer.step()
    with torch.no_grad():
        return before, loss(model(images), labels).item()


@pytest.mark.parametrize("name", registry.names())
def test_default_learning_rate_reduces_the_training_loss(digits, name):
    before, after = _train(digits, name)
    # Lion's default lr (1e-4) moves each weight by at most 0.03 in 300 steps: the slowest here.
    assert after < 0.9 * before


def test_lookahead_around_the_defaults_reduces_the_training_loss(digits):
    before, after = _train(digits, "adam", lookahead={"k": 5, "alpha": 0.5})
    assert after < 0.9 * before



def test_flat_lion_trains_exactly_as_the_default_one_in_a_real_loop(digits):
    """zero_grad() sets the gradients to None every step: the flat path gathers them each time."""
    assert _train(digits, "lion", flat=True) == _train(digits, "lion")
