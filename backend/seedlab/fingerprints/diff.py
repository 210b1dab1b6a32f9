"""Which environment fields differ between runs, and how likely each is to change numerics."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Literal, TypeVar

Risk = Literal["high", "low", "none"]
RISK_ORDER: dict[str, int] = {"high": 0, "low": 1, "none": 2}
DEFAULT_RISK: Risk = "low"  # an unknown difference deserves a look, not an alarm

# First match wins. Dotted names are matched as globs; "*" also crosses dots.
RISK_RULES: tuple[tuple[str, Risk], ...] = (
    # Where the run happened and how loudly TF logs: nothing a kernel sees.
    ("hostname", "none"),
    ("ray.node_id", "none"),
    ("ray.hostname", "none"),
    ("ray.worker_pid", "none"),
    ("env.TF_CPP_*", "none"),
    ("env.*_HOME", "none"),
    ("env.*_PATH", "none"),
    ("env.*_DIR", "none"),
    ("env.*_ROOT", "none"),
    # oneDNN kernels sum in another order, so the last bits change.
    ("onednn", "high"),
    ("env.TF_ENABLE_ONEDNN_OPTS", "high"),
    # TF picks kernels by instruction set; its default thread pools are sized by the core count.
    ("cpu.*", "high"),
    ("os.machine", "high"),
    # Another TF build (its CUDA/cuDNN versions included) means other kernels.
    ("tensorflow.*", "high"),
    ("packages.tensorflow", "high"),
    ("gpu.*", "high"),
    ("env.CUDA_VISIBLE_DEVICES", "high"),
    ("env.CUBLAS_WORKSPACE_CONFIG", "high"),
    ("env.TF_DETERMINISTIC_OPS", "high"),
    ("env.TF_CUDNN_*", "high"),
    ("env.*XLA_FLAGS", "high"),
    ("env.TF_USE_LEGACY_KERAS", "high"),
    # Thread counts change the order of parallel reductions.
    ("threads.*", "high"),
    ("env.OMP_*", "high"),
    ("env.MKL_*", "high"),
    ("env.KMP_*", "high"),
    ("env.TF_NUM_*", "high"),
    # The hash seed fixes set and dict iteration order.
    ("python.hash_seed", "high"),
    ("python.hash_randomization", "high"),
    ("env.PYTHONHASHSEED", "high"),
    ("op_determinism", "high"),
    # Other data or other code: the runs did not compute the same thing.
    ("data_hash", "high"),
    ("experiment.*", "high"),
    ("packages.numpy", "high"),
    ("packages.keras", "high"),
    ("python.*", "high"),
    # The profile's name only labels its toggles, which are compared one by one.
    ("applied.profile", "low"),
    ("applied.*", "high"),
    ("packages.*", "low"),
    ("distributions", "low"),
    ("distributions.*", "low"),
    ("os.*", "low"),
)

# Computed from other fields, so a difference in it says nothing new.
DERIVED = frozenset({"distributions_hash"})

# Generators seeded with the run's own seed: whether they were seeded is the toggle, the value
# differs between the seeds of a job by design.
SEEDED_GENERATORS = ("python_seed", "numpy_seed", "tf_seed", "tf_data_seed")
APPLIED_PREFIX = "applied."
# The seed values a run was given: they differ between runs by design, never as a risk.
RUN_SEEDS = ("seed", "init_seed", "order_seed", "split_seed")


@dataclass(frozen=True)
class FieldDiff:
    """One field whose value differs between run A and run B."""

    name: str
    a: Any
    b: Any
    risk: Risk

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "a": self.a, "b": self.b, "risk": self.risk}


@dataclass(frozen=True)
class PackageDiff:
    """Installed distributions only in A (removed), only in B (added), or at other versions."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[dict[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when both sides have the same distributions at the same versions."""
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        """E.g. '1 added, 2 changed'."""
        parts = [(len(self.added), "added"), (len(self.removed), "removed"),
                 (len(self.changed), "changed")]
        return ", ".join(f"{n} {word}" for n, word in parts if n) or "no differences"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [dict(c) for c in self.changed],
        }


@dataclass(frozen=True)
class FingerprintDiff:
    """Every differing field, riskiest first, plus the package-level diff."""

    fields: list[FieldDiff]
    packages: PackageDiff = field(default_factory=PackageDiff)

    @property
    def identical(self) -> bool:
        """True when no field differs (the package diff is summarised as a field)."""
        return not self.fields

    def with_fields(self, extra: Iterable[FieldDiff]) -> FingerprintDiff:
        """This diff with more fields (e.g. the applied profiles'), re-sorted."""
        return FingerprintDiff(fields=sort_by_risk([*self.fields, *extra]), packages=self.packages)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "fields": [f.to_dict() for f in self.fields],
            "packages": self.packages.to_dict(),
            "identical": self.identical,
        }


@dataclass(frozen=True)
class ValueCount:
    """One value a field takes across a job, and which runs have it."""

    value: Any
    runs: int
    run_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "runs": self.runs, "run_ids": list(self.run_ids)}


@dataclass(frozen=True)
class VaryingField:
    """A field whose value is not the same in every run of a job."""

    name: str
    risk: Risk
    values: list[ValueCount]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"name": self.name, "risk": self.risk, "values": [v.to_dict() for v in self.values]}


_Ranked = TypeVar("_Ranked", FieldDiff, VaryingField)


def risk_of(name: str) -> Risk:
    """The risk that a difference in this dotted field changes numerics."""
    for pattern, risk in RISK_RULES:
        if fnmatchcase(name, pattern):
            return risk
    return DEFAULT_RISK


def sort_by_risk(items: Iterable[_Ranked]) -> list[_Ranked]:
    """Riskiest first, then by name."""
    return sorted(items, key=lambda item: (RISK_ORDER[item.risk], item.name))


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted names; lists and scalars are leaves, empty mappings vanish."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def _key(value: Any) -> str:
    # Canonical JSON tells true from 1 and 1 from 1.0, which == does not.
    return json.dumps(value, sort_keys=True, default=str)


def _diff_flat(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[FieldDiff]:
    """Fields whose values differ; a missing field counts as None."""
    return [
        FieldDiff(name, a.get(name), b.get(name), risk_of(name))
        for name in sorted(a.keys() | b.keys())
        if _key(a.get(name)) != _key(b.get(name))
    ]


def _normal_name(name: str) -> str:
    # Metadata spells some names with "_" or "." depending on the build backend (PEP 503).
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def package_versions(entries: Iterable[str]) -> dict[str, str]:
    """name==version entries as {normalised name: version}; two installs of one name are joined."""
    found: dict[str, list[str]] = {}
    for entry in entries:
        name, _, version = str(entry).partition("==")
        found.setdefault(_normal_name(name), []).append(version.strip())
    return {name: ", ".join(sorted(versions)) for name, versions in found.items()}


def diff_packages(a: Iterable[str], b: Iterable[str]) -> PackageDiff:
    """Package-level diff of two distributions lists (name==version entries)."""
    va, vb = package_versions(a), package_versions(b)
    return PackageDiff(
        added=[f"{name}=={vb[name]}" for name in sorted(vb.keys() - va.keys())],
        removed=[f"{name}=={va[name]}" for name in sorted(va.keys() - vb.keys())],
        changed=[
            {"name": name, "a": va[name], "b": vb[name]}
            for name in sorted(va.keys() & vb.keys())
            if va[name] != vb[name]
        ],
    )


def _fingerprint_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in flatten(data).items() if k not in DERIVED}


def diff_fingerprints(a: Mapping[str, Any], b: Mapping[str, Any]) -> FingerprintDiff:
    """Every differing field of two fingerprints, with the distributions as a package diff."""
    fa, fb = _fingerprint_fields(a), _fingerprint_fields(b)
    dists_a, dists_b = fa.pop("distributions", None), fb.pop("distributions", None)
    fields = _diff_flat(fa, fb)
    packages = PackageDiff()
    if isinstance(dists_a, list) and isinstance(dists_b, list):
        packages = diff_packages(dists_a, dists_b)
        if not packages.empty:
            fields.append(
                FieldDiff(
                    "distributions",
                    f"{len(dists_a)} distributions",
                    f"{len(dists_b)} distributions ({packages.summary()})",
                    risk_of("distributions"),
                )
            )
    else:  # a fingerprint without a list: nothing to diff package by package
        fields.extend(_diff_flat({"distributions": dists_a}, {"distributions": dists_b}))
    return FingerprintDiff(fields=sort_by_risk(fields), packages=packages)


def applied_toggles(applied: Mapping[str, Any] | None) -> dict[str, Any]:
    """An applied profile as comparable 'applied.*' fields, without the run's own seeds."""
    flat = {k: v for k, v in flatten(applied or {}).items() if k not in RUN_SEEDS}
    for name in SEEDED_GENERATORS:
        if name in flat:
            flat[name] = flat[name] is not None
    return {f"{APPLIED_PREFIX}{k}": v for k, v in flat.items()}


def diff_applied_profiles(
    a: Mapping[str, Any] | None, b: Mapping[str, Any] | None
) -> list[FieldDiff]:
    """Toggles applied differently in two run processes (high risk, except the profile name)."""
    return sort_by_risk(_diff_flat(applied_toggles(a), applied_toggles(b)))


def _job_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """A fingerprint's fields with its distributions split into one field per package."""
    record = _fingerprint_fields(data)
    dists = record.pop("distributions", None)
    if not isinstance(dists, list):
        record["distributions"] = dists
        return record
    for name, version in package_versions(dists).items():
        # packages.numpy etc. already carry these versions at their own risk.
        if f"packages.{name}" not in record:
            record[f"distributions.{name}"] = version
    return record


def _varying(
    records: Sequence[Mapping[str, Any]], run_ids: Sequence[int] | None
) -> list[VaryingField]:
    if run_ids is not None and len(run_ids) != len(records):
        raise ValueError(f"{len(run_ids)} run ids for {len(records)} records")
    names = sorted({name for record in records for name in record})
    out: list[VaryingField] = []
    for name in names:
        groups: dict[str, tuple[Any, list[int]]] = {}  # first-seen order breaks count ties
        for index, record in enumerate(records):
            value = record.get(name)
            _, members = groups.setdefault(_key(value), (value, []))
            members.append(index)
        if len(groups) < 2:
            continue
        values = [
            ValueCount(
                value=value,
                runs=len(members),
                run_ids=[run_ids[i] for i in members] if run_ids is not None else [],
            )
            for value, members in groups.values()
        ]
        values.sort(key=lambda v: -v.runs)
        out.append(VaryingField(name=name, risk=risk_of(name), values=values))
    return sort_by_risk(out)


def varying_fields(
    fingerprints: Sequence[Mapping[str, Any]], *, run_ids: Sequence[int] | None = None
) -> list[VaryingField]:
    """Fingerprint fields not equal across all runs, riskiest first; packages one by one."""
    return _varying([_job_record(fp) for fp in fingerprints], run_ids)


def varying_applied(
    profiles: Sequence[Mapping[str, Any] | None], *, run_ids: Sequence[int] | None = None
) -> list[VaryingField]:
    """Applied-profile toggles not equal across all runs (the run's own seed left out)."""
    return _varying([applied_toggles(profile) for profile in profiles], run_ids)
