"""Leak: the DataLoader has no generator of its own, so each epoch's shuffle seed is drawn from
PyTorch's global generator, and something else draws from that generator a number of times
that changes from run to run. Here it is a preview sample whose size comes from the clock; in
real scripts a time-based evaluation sample, a retry loop or a background thread do the same.

The weights are initialised from an explicit generator seeded with the run's seed (SEEDLAB_SEED)
and nothing else in training is random, so with PyTorch's global seed set (torch_seed) only the
loader's order can move: the torch_loader_seed toggle (a seeded generator for every DataLoader
built without one) is what keeps same-seed runs bit-identical.
"""

import argparse
import os
import time

import torch
from common import dataset, report, train_epoch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    init = torch.Generator().manual_seed(int(os.environ.get("SEEDLAB_SEED", "0")))
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=init) * 0.3)
    x, y = dataset()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(1, args.epochs + 1):
        # A preview of a few random rows, as many as the clock says: a varying number of draws.
        preview = torch.randint(len(x), (1 + time.time_ns() // 1000 % 997,))
        print(f"preview of {len(preview)} rows, mean {float(x[preview].mean()):.3f}", flush=True)
        report(epoch, args.epochs, train_epoch(model, loader, optimizer), model)


if __name__ == "__main__":
    main()
