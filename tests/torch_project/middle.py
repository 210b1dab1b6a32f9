"""A tiny net with F.interpolate(mode='bilinear') between two layers (its backprop has no
deterministic CUDA kernel), a gather (its backprop is a scatter_add, deterministic on CUDA only
under torch.use_deterministic_algorithms) or nothing. Trained with torch.optim.SGD or with a
hand-written update."""

import argparse

import torch
import torch.nn.functional as F
from common import dataset, report
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(nn.Module):
    def __init__(self, middle: str) -> None:
        super().__init__()
        self.middle = middle
        self.first = nn.Linear(16, 16)
        self.last = nn.Linear(64 if middle == "bilinear" else 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        if self.middle == "bilinear":
            h = F.interpolate(h.view(-1, 1, 4, 4), scale_factor=2, mode="bilinear")
        elif self.middle == "gather":
            h = h.gather(1, torch.arange(16).flip(0).expand(len(h), 16))
        return self.last(h.flatten(1)).squeeze(1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--middle", default="bilinear")
    parser.add_argument("--optimizer", default="sgd")
    args = parser.parse_args()
    x, y = dataset()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    model = Net(args.middle)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1) if args.optimizer == "sgd" else None
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for xb, yb in loader:
            loss = F.binary_cross_entropy_with_logits(model(xb), yb)
            model.zero_grad()
            loss.backward()
            if optimizer is not None:
                optimizer.step()
            else:
                with torch.no_grad():
                    for parameter in model.parameters():
                        parameter -= 0.1 * parameter.grad
            total += loss.item() * len(xb)
        report(epoch, args.epochs, total / len(x), model)


if __name__ == "__main__":
    main()
