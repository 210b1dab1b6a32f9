"""Write churn.csv: 200 made-up customers, 4 numeric columns, 1 categorical, a yes/no target.

    python make_churn.py            # writes churn.csv next to this script
    python make_churn.py --rows 5000 --out big.csv

The same arguments always give the same bytes (a fixed NumPy seed), so the sha256 is stable.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def rows(count: int, seed: int = 7) -> list[list[str]]:
    """Customers with a churn label that depends on tenure, charges, calls and plan."""
    rng = np.random.default_rng(seed)
    plans = np.array(["basic", "plus", "pro"])
    out = []
    for _ in range(count):
        tenure = int(rng.integers(1, 72))
        charges = round(float(rng.normal(65, 20)), 2)
        calls = int(rng.poisson(2))
        age = int(rng.integers(18, 80))
        plan = str(plans[rng.integers(0, 3)])
        score = -0.04 * tenure + 0.03 * charges + 0.5 * calls - 0.6 * (plan == "pro") - 1.2
        churned = "yes" if rng.random() < 1 / (1 + np.exp(-score)) else "no"
        # A few missing values, as real exports have: seedlab fills them from the training rows.
        tenure_text = "" if rng.random() < 0.03 else str(tenure)
        out.append([tenure_text, f"{charges:.2f}", str(calls), str(age), plan, churned])
    return out


def main() -> None:
    """Write the CSV."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("churn.csv"))
    args = parser.parse_args()
    with args.out.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["tenure_months", "monthly_charges", "support_calls", "age", "plan",
                         "churned"])
        writer.writerows(rows(args.rows))
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
