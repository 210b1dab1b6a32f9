"""Pure diff functions on fixed fingerprint dicts: flattening, risk rules, packages, variation."""

from __future__ import annotations

import json

import pytest

from seedlab.fingerprints.diff import (
    FieldDiff,
    diff_applied_profiles,
    diff_fingerprints,
    diff_packages,
    flatten,
    risk_of,
    varying_applied,
    varying_fields,
)
from tests.factory import REMOVE, applied, fingerprint


def _by_name(fields: list[FieldDiff]) -> dict[str, FieldDiff]:
    return {f.name: f for f in fields}


def test_identical_fingerprints_have_no_differences() -> None:
    diff = diff_fingerprints(fingerprint(), fingerprint())
    assert diff.fields == [] and diff.identical and diff.packages.empty
    assert diff.to_dict() == {
        "fields": [], "packages": {"added": [], "removed": [], "changed": []}, "identical": True,
    }


def test_onednn_flag_change_is_high_risk() -> None:
    b = fingerprint({"onednn": "off", "env.TF_ENABLE_ONEDNN_OPTS": "0"})
    fields = _by_name(diff_fingerprints(fingerprint(), b).fields)
    assert set(fields) == {"onednn", "env.TF_ENABLE_ONEDNN_OPTS"}
    assert fields["onednn"] == FieldDiff("onednn", "default (on)", "off", "high")
    # Unset on one side: a missing field compares as None.
    assert fields["env.TF_ENABLE_ONEDNN_OPTS"] == FieldDiff(
        "env.TF_ENABLE_ONEDNN_OPTS", None, "0", "high"
    )


def test_hostname_difference_is_cosmetic_but_not_identical() -> None:
    diff = diff_fingerprints(fingerprint(), fingerprint({"hostname": "worker-2"}))
    assert [f.to_dict() for f in diff.fields] == [
        {"name": "hostname", "a": "worker-1", "b": "worker-2", "risk": "none"}
    ]
    assert not diff.identical


def test_nested_fields_are_flattened_to_dotted_names() -> None:
    assert flatten({"a": {"b": {"c": 1}, "d": [1, 2]}, "e": {}, "f": None}) == {
        "a.b.c": 1, "a.d": [1, 2], "f": None,
    }
    b = fingerprint({"tensorflow.build.cudnn_version": "8", "cpu.isa_flags": ["avx", "fma"]})
    fields = _by_name(diff_fingerprints(fingerprint(), b).fields)
    assert fields["tensorflow.build.cudnn_version"] == FieldDiff(
        "tensorflow.build.cudnn_version", "9", "8", "high"
    )
    assert fields["cpu.isa_flags"].a == ["avx", "avx2", "fma"]
    assert fields["cpu.isa_flags"].risk == "high"


def test_an_empty_mapping_equals_a_missing_one() -> None:
    diff = diff_fingerprints(fingerprint({"tensorflow.build": {}}), fingerprint())
    assert [f.name for f in diff.fields] == [
        "tensorflow.build.cuda_version", "tensorflow.build.cudnn_version",
    ]
    assert diff_fingerprints(fingerprint({"env": {}}), fingerprint({"env": REMOVE})).identical


def test_type_changes_count_as_differences() -> None:
    diff = diff_fingerprints(fingerprint(), fingerprint({"python.hash_randomization": 1}))
    assert [f.name for f in diff.fields] == ["python.hash_randomization"]


def test_packages_added_removed_and_changed() -> None:
    b = fingerprint({"distributions": [
        "keras==3.6.0", "numpy==2.1.0", "tensorflow==2.18.0", "tf-keras==2.18.0",
    ]})
    diff = diff_fingerprints(fingerprint(), b)
    assert diff.packages.added == ["tf-keras==2.18.0"]
    assert diff.packages.removed == ["ml-dtypes==0.4.1"]
    assert diff.packages.changed == [{"name": "numpy", "a": "2.0.2", "b": "2.1.0"}]
    # One summary field for the whole list, low risk; the list itself is in `packages`.
    assert diff.fields == [
        FieldDiff(
            "distributions", "4 distributions",
            "4 distributions (1 added, 1 removed, 1 changed)", "low",
        )
    ]


def test_package_names_are_normalised() -> None:
    same = diff_packages(["Scikit_Learn==1.5.2", "zope.interface==6"],
                         ["scikit-learn==1.5.2", "zope-interface==6"])
    assert same.empty and same.summary() == "no differences"


def test_derived_distributions_hash_is_ignored() -> None:
    assert diff_fingerprints(fingerprint(), fingerprint({"distributions_hash": "e" * 64})).identical


def test_missing_distributions_list_is_a_plain_field() -> None:
    diff = diff_fingerprints(fingerprint({"distributions": REMOVE}), fingerprint())
    assert [(f.name, f.a, f.risk) for f in diff.fields] == [("distributions", None, "low")]
    assert diff.packages.empty


def test_fields_are_sorted_by_risk_then_name() -> None:
    b = fingerprint({
        "hostname": "worker-2", "os.release": "6.5.0", "packages.scipy": "1.15.0",
        "threads.intra_op": 4, "data_hash": "ef" * 32,
    })
    diff = diff_fingerprints(fingerprint(), b)
    assert [(f.risk, f.name) for f in diff.fields] == [
        ("high", "data_hash"), ("high", "threads.intra_op"),
        ("low", "os.release"), ("low", "packages.scipy"),
        ("none", "hostname"),
    ]
    json.dumps(diff.to_dict())  # JSON-ready


@pytest.mark.parametrize(
    ("name", "risk"),
    [
        ("onednn", "high"), ("env.TF_ENABLE_ONEDNN_OPTS", "high"), ("cpu.isa_flags", "high"),
        ("cpu.model", "high"), ("tensorflow.version", "high"),
        ("tensorflow.build.cuda_version", "high"), ("gpu.driver", "high"),
        ("gpu.devices", "high"), ("threads.inter_op", "high"), ("env.OMP_NUM_THREADS", "high"),
        ("env.MKL_NUM_THREADS", "high"), ("python.hash_seed", "high"),
        ("python.hash_randomization", "high"), ("env.PYTHONHASHSEED", "high"),
        ("op_determinism", "high"), ("data_hash", "high"), ("experiment.source_hash", "high"),
        ("experiment.version", "high"), ("packages.numpy", "high"), ("packages.keras", "high"),
        ("packages.tensorflow", "high"), ("python.version", "high"),
        ("packages.scipy", "low"), ("packages.scikit-learn", "low"), ("distributions", "low"),
        ("os.release", "low"), ("env.TF_GPU_ALLOCATOR", "low"), ("something.new", "low"),
        ("hostname", "none"), ("env.CUDA_HOME", "none"), ("env.TF_CPP_MIN_LOG_LEVEL", "none"),
        ("applied.op_determinism", "high"), ("applied.profile", "low"),
    ],
)
def test_risk_rules(name: str, risk: str) -> None:
    assert risk_of(name) == risk


def test_applied_profiles_of_other_seeds_with_the_same_toggles_do_not_differ() -> None:
    assert diff_applied_profiles(applied(1), applied(2)) == []
    assert diff_applied_profiles(None, None) == []


def test_differing_applied_toggles_are_high_risk() -> None:
    b = applied(2, op_determinism=False, numpy_seed=None, profile="full+custom")
    assert diff_applied_profiles(applied(1), b) == [
        FieldDiff("applied.numpy_seed", True, False, "high"),
        FieldDiff("applied.op_determinism", True, False, "high"),
        FieldDiff("applied.profile", "full", "full+custom", "low"),
    ]


def test_applied_fields_merge_into_the_fingerprint_diff_in_risk_order() -> None:
    diff = diff_fingerprints(fingerprint(), fingerprint({"hostname": "worker-2"})).with_fields(
        diff_applied_profiles(applied(1), applied(1, onednn="0"))
    )
    assert [f.name for f in diff.fields] == ["applied.onednn", "hostname"]


def test_varying_fields_counts_values_across_runs() -> None:
    fingerprints = [
        fingerprint(),
        fingerprint({"hostname": "worker-2"}),
        fingerprint({"hostname": "worker-2", "onednn": "off"}),
        fingerprint({"hostname": "worker-2"}),
    ]
    fields = varying_fields(fingerprints, run_ids=[11, 12, 13, 14])
    assert [(f.risk, f.name) for f in fields] == [("high", "onednn"), ("none", "hostname")]
    onednn, hostname = (f.to_dict() for f in fields)
    assert onednn["values"] == [
        {"value": "default (on)", "runs": 3, "run_ids": [11, 12, 14]},
        {"value": "off", "runs": 1, "run_ids": [13]},
    ]
    # The most common value first.
    assert [(v["value"], v["runs"]) for v in hostname["values"]] == [
        ("worker-2", 3), ("worker-1", 1),
    ]


def test_varying_fields_split_distributions_per_package() -> None:
    dists = ["keras==3.6.0", "ml-dtypes==0.5.0", "numpy==2.1.0", "tensorflow==2.18.0"]
    fields = varying_fields([
        fingerprint(),
        fingerprint({"distributions": dists, "packages.numpy": "2.1.0"}),
    ])
    assert [(f.risk, f.name) for f in fields] == [
        ("high", "packages.numpy"), ("low", "distributions.ml-dtypes"),
    ]
    # Without run ids only the counts are known.
    assert fields[1].values[0].runs == 1 and fields[1].values[0].run_ids == []


def test_no_variation_within_identical_runs_or_a_single_run() -> None:
    assert varying_fields([fingerprint(), fingerprint(), fingerprint()]) == []
    assert varying_fields([fingerprint()]) == []
    assert varying_fields([]) == []


def test_varying_applied_ignores_the_run_seed() -> None:
    assert varying_applied([applied(1), applied(2), applied(3)]) == []
    fields = varying_applied([applied(1), applied(2, op_determinism=False)], run_ids=[5, 6])
    assert [(f.name, f.risk, [v.run_ids for v in f.values]) for f in fields] == [
        ("applied.op_determinism", "high", [[5], [6]]),
    ]


def test_run_ids_must_match_the_fingerprints() -> None:
    with pytest.raises(ValueError, match="1 run ids for 2 records"):
        varying_fields([fingerprint(), fingerprint()], run_ids=[1])
