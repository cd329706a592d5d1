"""Character-level language model over Python's own help texts (pydoc_data.topics, standard library).

Predict each next character of 24-character snippets with a one-layer GRU; the 47 most common
characters keep their own id, all others share one. Logits come out as (N, C, T) for targets
(N, T). Objective: validation cross-entropy per character.
"""

from collections import Counter

import torch
from pydoc_data.topics import topics
from torch import nn
from torch.utils.data import TensorDataset

epochs = 10
LENGTH, VOCAB = 24, 48  # 47 common characters + "other"


def datasets():
    text = "".join(topics[key] for key in sorted(topics))
    common = [c for c, _ in Counter(text).most_common(VOCAB - 1)]
    ids = {c: i for i, c in enumerate(common)}
    codes = torch.tensor([ids.get(c, VOCAB - 1) for c in text], dtype=torch.long)
    chunks = codes[: len(codes) // (LENGTH + 1) * (LENGTH + 1)].view(-1, LENGTH + 1)
    order = torch.randperm(len(chunks), generator=torch.Generator().manual_seed(0))
    train, valid = chunks[order[:256]], chunks[order[256:406]]
    return TensorDataset(train[:, :-1], train[:, 1:]), TensorDataset(valid[:, :-1], valid[:, 1:])


class CharGRU(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 16)
        self.gru = nn.GRU(16, 48, batch_first=True)
        self.out = nn.Linear(48, VOCAB)

    def forward(self, x):
        hidden, _ = self.gru(self.embed(x))
        return self.out(hidden).transpose(1, 2)  # (N, C, T)


def build_model():
    return CharGRU()
