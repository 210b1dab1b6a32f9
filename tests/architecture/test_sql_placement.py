"""SQL lives in repository modules only; a planted query outside one breaks the check."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# SQLAlchemy's statement builders: building one outside a repository is writing SQL there.
STATEMENTS = frozenset(
    {"select", "insert", "update", "delete", "exists", "text", "union", "union_all", "values"}
)
# Methods that send SQL to the database. Counted on any object, whatever its name: a session,
# a connection or an engine all run SQL, and a rename must not hide one.
EXECUTORS = frozenset({"execute", "exec_driver_sql", "scalar", "scalars", "executemany"})
# Session methods that read the database. Counted on objects named like a session (`session`,
# `db_session`, `self.session`), since `get` and `merge` are common method names elsewhere.
# `session.add` and `session.flush` stay allowed in services: they stage and send the unit of
# work the service builds, and write nothing the repositories would otherwise own.
SESSION_READS = frozenset({"get", "get_one", "merge", "refresh", "query"})
# Modules (relative to backend/seedlab) that must run SQL without being a repository, and why.
ALLOWED = {
    # The engine's connect hook sets SQLite's pragmas (WAL, busy timeout, foreign keys) on the
    # raw DB-API cursor, before any session or repository exists.
    "db.py": "engine set-up",
}
# Folders of processes that have no database: the agent and the run process talk to the server
# over HTTP (their `execute` is "run this assignment", not SQL). The migrations (alembic/, seen
# here as migrations/) are the schema's own history and run their SQL through Alembic's `op`.
NO_DATABASE = ("agent/", "runner/", "migrations/")


def violations(package: Path) -> list[str]:
    """Each SQL statement or execution outside a repository module, as 'path:line: what'."""
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if path.name == "repository.py" or relative in ALLOWED or relative.startswith(NO_DATABASE):
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        builders = _sqlalchemy_names(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            what = _sql_call(node, builders)
            if what is not None:
                found.append(f"{relative}:{node.lineno}: {what}")
    return found


def _sqlalchemy_names(tree: ast.Module) -> dict[str, str]:
    """Local names bound to SQLAlchemy's statement builders or to the module itself."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if alias.name in STATEMENTS:
                    names[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sqlalchemy"):
                    names[alias.asname or alias.name.split(".")[0]] = "module"
    return names


def _sql_call(node: ast.Call, builders: dict[str, str]) -> str | None:
    func = node.func
    if isinstance(func, ast.Name) and builders.get(func.id, "module") != "module":
        return f"{builders[func.id]}(...)"
    if isinstance(func, ast.Attribute):
        if func.attr in EXECUTORS:
            return f".{func.attr}(...)"
        if func.attr in SESSION_READS and _receiver_name(func.value).endswith("session"):
            return f"session.{func.attr}(...)"
        # sqlalchemy.select(...) or sa.select(...)
        if (
            func.attr in STATEMENTS
            and isinstance(func.value, ast.Name)
            and builders.get(func.value.id) == "module"
        ):
            return f"{func.value.id}.{func.attr}(...)"
    return None


def _receiver_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id.lower()
    if isinstance(node, ast.Attribute):
        return node.attr.lower()
    return ""


def test_sql_lives_in_repositories_only() -> None:
    assert violations(REPO / "backend" / "seedlab") == []


def test_every_allowed_module_exists_and_runs_sql() -> None:
    # An allow-list entry that no longer needs its exemption must be dropped, not kept "just in
    # case": check each one still has SQL that the check would otherwise report.
    package = REPO / "backend" / "seedlab"
    for relative in ALLOWED:
        source = package / relative
        assert source.exists(), relative
        copy_violations = _violations_of(source)
        assert copy_violations, f"{relative} runs no SQL: remove it from ALLOWED"


def _violations_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    builders = _sqlalchemy_names(tree)
    return [
        what
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and (what := _sql_call(node, builders)) is not None
    ]


@pytest.mark.parametrize(
    ("module", "line"),
    [
        (
            "queue/service.py",
            "def _planted(session):\n    return session.scalars(select(Agent)).all()",
        ),
        (
            "jobs/router.py",
            "import sqlalchemy as sa\n\ndef _planted(s):\n    return sa.select(1)",
        ),
        (
            "pages/jobs.py",
            "from sqlalchemy import update as _u\n\ndef _planted(s, m):\n    return _u(m)",
        ),
        ("tokens/service.py", "def _planted(conn):\n    conn.exec_driver_sql('DELETE FROM job')"),
        ("runs/service.py", "def _planted(db):\n    return db.execute('SELECT 1')"),
        ("experiments/service.py", "def _planted(session):\n    return session.get(Agent, 1)"),
    ],
)
def test_a_planted_query_outside_a_repository_is_caught(
    tmp_path: Path, module: str, line: str
) -> None:
    copy = tmp_path / "seedlab"
    shutil.copytree(
        REPO / "backend" / "seedlab",
        copy,
        symlinks=True,
        ignore=lambda _folder, names: [n for n in names if n == "__pycache__"],
    )
    assert violations(copy) == []
    target = copy / module
    target.write_text(target.read_text() + f"\n\n{line}\n")
    found = violations(copy)
    assert len(found) == 1 and found[0].startswith(f"{module}:"), found


def test_a_query_in_a_repository_is_allowed(tmp_path: Path) -> None:
    copy = tmp_path / "seedlab"
    shutil.copytree(
        REPO / "backend" / "seedlab",
        copy,
        symlinks=True,
        ignore=lambda _folder, names: [n for n in names if n == "__pycache__"],
    )
    target = copy / "runs" / "repository.py"
    target.write_text(target.read_text() + "\n\ndef _extra(session):\n    return select(Run)\n")
    assert violations(copy) == []
