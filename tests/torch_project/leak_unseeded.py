"""Leak: the model's initial weights come from PyTorch's global generator, which the script
never seeds (the torch_seed toggle does). The data are fixed; the DataLoader shuffles from the
global generator too."""

import argparse

import torch
import torch.nn.functional as F
from common import dataset, report
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    x, y = dataset()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for xb, yb in loader:
            loss = F.binary_cross_entropy_with_logits(model(xb).squeeze(1), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        report(epoch, args.epochs, total / len(x), model)


if __name__ == "__main__":
    main()
