"""Leak: the model's initial weights come from PyTorch's global generator, which the script
never seeds (the torch_seed toggle does). The data are fixed; the DataLoader shuffles from the
global generator too."""

import argparse

import torch
from common import dataset, report, train_epoch
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
        report(epoch, args.epochs, train_epoch(model, loader, optimizer), model)


if __name__ == "__main__":
    main()
