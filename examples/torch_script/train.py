"""A plain PyTorch training script: no seedlab import, no seeds set anywhere.

seedlab runs it unmodified as the command experiment `torch_script` (see seedlab.toml). Its
start-up hook seeds PyTorch, gives the shuffled DataLoader a seeded generator and turns on
deterministic algorithms when `torch` is imported. The script reports each epoch as a JSON line
with a sha256 of its weights, which is what seedlab's bit-for-bit verdict compares.
"""

import argparse
import hashlib
import json

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def weights_checksum(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--samples", type=int, default=512)
    args = parser.parse_args()
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    device = "cpu" if device == "auto" else device

    # Data from NumPy's global generator and PyTorch's: the same rows only when both are seeded.
    x = torch.from_numpy(np.random.rand(args.samples, 16).astype("float32"))
    noise = torch.randn(args.samples)
    y = ((x.sum(dim=1) + noise) > 8.0).float()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)

    model = nn.Sequential(
        nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 64), nn.ReLU(),
        nn.Linear(64, 1),
    ).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(xb).squeeze(1), yb)
            loss.backward()
            optimizer.step()
            total += float(loss) * len(xb)
            seen += len(xb)
        model.eval()
        with torch.no_grad():
            predicted = (model(x.to(device)).squeeze(1) > 0).float()
            accuracy = float((predicted == y.to(device)).float().mean())
        line = {
            "epoch": epoch, "epochs": args.epochs, "loss": total / seen, "accuracy": accuracy,
            "weights_checksum": weights_checksum(model),
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
