"""Document classification from raw word counts, by logistic regression.

Generated corpus (fixed seed): 300 words with Zipf frequencies (the commonest about 20 times a
document, the rarest about once in 15 documents), counts left raw as a user might; the 20
commonest words (stop words) say nothing about the label, the rest each lean it one way.
The large counts of common words cap a plain gradient step, while the informative rarer words
need large steps: per-coordinate scaling (Adam, AdaGrad, RMSprop) pays.
Objective: validation cross-entropy.

Designs tried (grid on one seed): binary presence features with Zipf frequencies and weights
growing for rare features: every family within 2% (RMSprop first, SGD close).
"""

import torch
from torch import nn
from torch.utils.data import TensorDataset

epochs = 20
N_TRAIN, N_VALID, D, STOP = 512, 512, 300, 20


def datasets():
    g = torch.Generator().manual_seed(0)
    rate = 20 * torch.arange(1, D + 1, dtype=torch.float32) ** -1.0
    x = torch.poisson(rate.expand(N_TRAIN + N_VALID, D), generator=g)
    w = torch.randn(D, generator=g)
    w[:STOP] = 0
    logits = (x - rate) @ w
    logits = 4 * logits / logits.std()
    y = (torch.rand(len(x), generator=g) < torch.sigmoid(logits)).long()
    return TensorDataset(x[:N_TRAIN], y[:N_TRAIN]), TensorDataset(x[N_TRAIN:], y[N_TRAIN:])


def build_model():
    return nn.Linear(D, 2)
