"""Submit the GPU check's jobs and print verdicts, checksums and the GPU fingerprint.

Run by benchmarks/gpu_check.sh against the server it started: examples/torch_script and
examples/keras_jax, each under `none` and `full`, seeds 42:3x2. Exit 0 when every job finished
and `full` came out bitwise for both; 1 otherwise (the verdicts are printed either way).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import httpx

PROFILES = ("none", "full")
SEEDS = "42:3x2"
TORCH_CONTROLS = ("torch_seed", "torch_deterministic", "torch_tf32_off", "torch_loader_seed")
JAX_CONTROLS = ("keras_seed", "xla_deterministic", "python_seed", "single_thread")
TERMINAL = {"succeeded", "failed", "cancelled"}


def wait_for_catalog(http: httpx.Client, names: set[str], timeout: float) -> None:
    """Until the agents advertised both experiments."""
    deadline = time.monotonic() + timeout
    while True:
        online = {i["name"] for i in http.get("/api/v1/experiments").json() if i.get("online")}
        if names <= online:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"agents did not advertise {sorted(names - online)} in {timeout} s")
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True)
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per job")
    parser.add_argument("--device", default="cuda", help="the PyTorch script's device")
    args = parser.parse_args()
    jobs = [
        (name, profile, params)
        for name, params in (
            ("torch_script", {"epochs": 3, "device": args.device}),
            ("keras_jax", {"epochs": 3}),
        )
        for profile in PROFILES
    ]
    started = time.monotonic()
    with httpx.Client(base_url=args.server, timeout=30) as http:
        wait_for_catalog(http, {name for name, _, _ in jobs}, 120)
        ids = []
        for name, profile, params in jobs:
            job = http.post(
                "/api/v1/jobs",
                json={"experiment": name, "params": params, "seeds": SEEDS, "profile": profile,
                      "label": f"gpu check {name} {profile}"},
            )
            job.raise_for_status()
            ids.append(job.json()["id"])
        deadline = time.monotonic() + args.timeout * len(jobs)
        reports: dict[int, dict[str, Any]] = {}
        while len(reports) < len(ids):
            for job_id in ids:
                if job_id in reports:
                    continue
                report = http.get(f"/api/v1/jobs/{job_id}/report").json()
                if report["status"] in TERMINAL:
                    reports[job_id] = report
            if time.monotonic() > deadline:
                print(f"TIMEOUT: jobs {sorted(set(ids) - set(reports))} unfinished")
                break
            time.sleep(1)

        ok = True
        for (name, profile, _params), job_id in zip(jobs, ids, strict=True):
            report = reports.get(job_id)
            print()
            if report is None:
                print(f"{name:13} {profile:5} job {job_id}: UNFINISHED")
                ok = False
                continue
            print(
                f"{name:13} {profile:5} job {job_id}: status {report['status']}, "
                f"verdict {report['verdict']}"
            )
            for run in sorted(report["runs"], key=lambda r: (r["seed"], r["id"])):
                checksum = run.get("weights_checksum") or "-"
                print(
                    f"    seed {run['seed']} run {run['id']:3}: {run['status']:9} {checksum[:16]}"
                )
                if run.get("error"):
                    print(f"        error: {str(run['error'])[:300]}")
            if report["status"] != "succeeded" or (
                profile == "full" and report["verdict"] != "bitwise"
            ):
                ok = False
            runs = [r for r in report["runs"] if r["status"] == "succeeded"]
            if runs:
                detail = http.get(f"/api/v1/runs/{runs[0]['id']}").json()
                how = (detail.get("applied_profile") or {}).get("how") or {}
                wanted = TORCH_CONTROLS if name == "torch_script" else JAX_CONTROLS
                for key in wanted:
                    print(f"    how {key}: {how.get(key)}")
                if profile == "full":
                    answer = http.get(f"/api/v1/fingerprints/{detail['fingerprint_hash']}")
                    data = answer.json().get("data", {}) if answer.status_code == 200 else {}
                    print("    GPU fingerprint:", json.dumps(data.get("gpu")))
                    print("    frameworks:", json.dumps(data.get("frameworks")))
    print()
    print(f"{'PASS' if ok else 'FAIL'}: full bitwise for both frameworks; "
          f"{time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
