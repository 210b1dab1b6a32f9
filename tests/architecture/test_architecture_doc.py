"""docs/architecture.md tells the truth: its tables name every module, and only real ones; each
row's imports column covers what the package imports; its layer stack is the contract's."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "backend" / "seedlab"
DOC = REPO / "docs" / "architecture.md"
BASE_ROW = "base modules"
# Symbolic links to frontend/ and alembic/: no seedlab code.
NOT_CODE = ("frontend", "migrations")
TICKED = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Row:
    """One row of the packages table: `jobs/`, `app.py` or the base modules."""

    label: str
    modules: tuple[str, ...]
    imports: str

    @property
    def name(self) -> str:
        """The package or module name: jobs, app; '' for the base modules' row."""
        return "" if self.label == BASE_ROW else self.label.rstrip("/").removesuffix(".py")


def table(text: str) -> list[Row]:
    """The rows of the table under '## Packages'."""
    section = text.split("\n## Packages", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("package", "---"):
            continue
        label = cells[0].strip("`")
        rows.append(Row(label, tuple(TICKED.findall(cells[1])), cells[3]))
    return rows


def code_modules(package: Path) -> set[str]:
    """Every module file as `pkg/mod` (`pkg/sub/mod` deeper) or `mod` at the top, no __init__."""
    found = set()
    for path in package.rglob("*.py"):
        relative = path.relative_to(package)
        if relative.parts[0] in NOT_CODE or path.stem == "__init__":
            continue
        found.add(relative.with_suffix("").as_posix())
    return found


def documented_modules(rows: list[Row]) -> dict[str, str]:
    """Each module the tables name, as code_modules spells it, with the row naming it."""
    named = {}
    for row in rows:
        if row.label.endswith(".py"):
            named[row.name] = row.label
        for module in row.modules:
            named[f"{row.name}/{module}" if row.name else module] = row.label
    return named


def missing_and_extra(rows: list[Row], package: Path) -> tuple[list[str], list[str]]:
    """Sentences for modules the tables lack and for modules they name that do not exist."""
    named = documented_modules(rows)
    code = code_modules(package)
    labels = {row.label for row in rows}
    missing = []
    for module in sorted(code - set(named)):
        top, _, rest = module.partition("/")
        if not rest:
            missing.append(f"backend/seedlab/{module}.py: add `{module}` to the '{BASE_ROW}' row")
        elif f"{top}/" in labels:
            missing.append(
                f"backend/seedlab/{module}.py: add `{rest}` to the modules of the `{top}/` row"
            )
        else:
            missing.append(f"backend/seedlab/{module}.py: add a row for `{top}/`")
    extra = [
        f"the `{row}` row names `{module}`, but backend/seedlab/{module}.py does not exist"
        for module, row in sorted(named.items())
        if module not in code
    ]
    return missing, extra


def undeclared_imports(rows: list[Row]) -> list[str]:
    """Imports between packages that a row's imports column does not list."""
    graph = grimp.build_graph("seedlab", exclude_type_checking_imports=True)
    base = {m for row in rows if row.label == BASE_ROW for m in row.modules}
    problems = []
    for row in rows:
        if row.label == BASE_ROW or row.imports.startswith("everything"):
            continue
        # `jobs/`, `app.py`; a bare `name` notes a module inside the package before it.
        declared = {
            name.removesuffix("/").removesuffix(".py")
            for name in TICKED.findall(row.imports)
            if name.endswith(("/", ".py"))
        }
        if BASE_ROW in row.imports:
            declared |= base
        for importer in graph.find_descendants(f"seedlab.{row.name}") | {f"seedlab.{row.name}"}:
            for imported in graph.find_modules_directly_imported_by(importer):
                parts = imported.split(".")
                if parts[0] != "seedlab" or len(parts) < 2 or parts[1] == row.name:
                    continue
                if parts[1] not in declared:
                    problems.append(
                        f"the `{row.label}` row's imports lack `{parts[1]}` ({importer} imports "
                        f"{imported})"
                    )
    return sorted(set(problems))


def test_every_module_is_in_the_tables_and_every_named_module_exists() -> None:
    missing, extra = missing_and_extra(table(DOC.read_text()), PACKAGE)
    assert not missing and not extra, "docs/architecture.md:\n" + "\n".join(missing + extra)


def test_each_row_lists_what_its_package_imports() -> None:
    problems = undeclared_imports(table(DOC.read_text()))
    assert not problems, "docs/architecture.md:\n" + "\n".join(problems)


def test_the_layer_stack_is_the_contracts() -> None:
    drawn = DOC.read_text().split("```layers\n", 1)[1].split("```", 1)[0].split("\n")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    (contract,) = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers" and c.get("exhaustive")
    ]
    assert [line for line in drawn if line] == contract["layers"]


def test_a_new_module_and_a_vanished_one_are_named(tmp_path: Path) -> None:
    rows = table(DOC.read_text())
    (tmp_path / "jobs").mkdir()
    (tmp_path / "newpkg").mkdir()
    for module in code_modules(PACKAGE) - {"jobs/report", "status"}:
        (tmp_path / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f"{module}.py").write_text("")
    (tmp_path / "jobs" / "planted.py").write_text("")
    (tmp_path / "planted_base.py").write_text("")
    (tmp_path / "newpkg" / "thing.py").write_text("")
    missing, extra = missing_and_extra(rows, tmp_path)
    assert missing == [
        "backend/seedlab/jobs/planted.py: add `planted` to the modules of the `jobs/` row",
        "backend/seedlab/newpkg/thing.py: add a row for `newpkg/`",
        "backend/seedlab/planted_base.py: add `planted_base` to the 'base modules' row",
    ]
    assert extra == [
        "the `jobs/` row names `jobs/report`, but backend/seedlab/jobs/report.py does not exist",
        "the `base modules` row names `status`, but backend/seedlab/status.py does not exist",
    ]


def test_an_import_the_row_does_not_list_is_named() -> None:
    rows = [
        Row("runs/", r.modules, "base modules") if r.label == "runs/" else r
        for r in table(DOC.read_text())
    ]
    problems = undeclared_imports(rows)
    assert problems and all("`runs/` row's imports lack `analysis`" in p for p in problems)
