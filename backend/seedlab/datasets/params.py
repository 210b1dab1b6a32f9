"""JSON-schema extras that mark an experiment's parameters as referring to uploaded data sets.

The server resolves and checks such parameters at submission, agents download the data set,
the new-job form offers the uploaded data sets and their columns. Import-free on purpose:
the catalog, the agent and the server all read these names.
"""

from __future__ import annotations

from typing import Any

WIDGET = "x-seedlab-widget"
DATASET_WIDGET = "dataset"  # name or sha256 of a data set; the job stores the sha256
COLUMN_WIDGET = "dataset-column"  # one column of the data set named by SOURCE
COLUMNS_WIDGET = "dataset-columns"  # a list of its columns
SOURCE = "x-seedlab-dataset"  # the parameter holding the data set a column belongs to
COLUMN_RULE = "x-seedlab-column"  # "binary": the column must be a 0/1 or two-label target


def dataset_fields(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The properties of a params JSON schema that refer to data sets, by name."""
    return {
        name: prop
        for name, prop in schema.get("properties", {}).items()
        if isinstance(prop, dict) and prop.get(WIDGET)
    }
