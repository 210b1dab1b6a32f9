"""Alembic: one head, upgrade works, autogenerate finds no difference, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import seedlab.models  # noqa: F401
from seedlab.db import Base, Database
from seedlab.migrate import alembic_config, upgrade_to_head


def test_single_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, heads


def test_upgrade_then_autogenerate_finds_no_difference(database_url: str) -> None:
    db = Database(database_url)
    try:
        upgrade_to_head(db.engine)
        upgrade_to_head(db.engine)  # idempotent: a restart must not fail
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
        tables = set(inspect(db.engine).get_table_names())
        expected = {"job", "run", "metric_point", "run_curve", "fingerprint", "agent", "experiment"}
        assert expected <= tables
    finally:
        db.dispose()


def test_sqlite_pragmas_are_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        db.dispose()


def test_decompose_migration_widens_the_job_kind_and_goes_back(database_url: str) -> None:
    from alembic import command

    def kinds(db: Database) -> str:
        checks = inspect(db.engine).get_check_constraints("job")
        return " ".join(str(c["sqltext"]) for c in checks if "kind" in str(c["sqltext"]))

    db = Database(database_url)
    try:
        upgrade_to_head(db.engine)
        assert "'decompose'" in kinds(db)
        columns = {c["name"] for c in inspect(db.engine).get_columns("run")}
        assert {"order_seed", "split_seed"} <= columns
        config = alembic_config()
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0008_tokens")
        assert "'audit'" in kinds(db) and "'decompose'" not in kinds(db)
        assert "order_seed" not in {c["name"] for c in inspect(db.engine).get_columns("run")}
        upgrade_to_head(db.engine)
        assert "'decompose'" in kinds(db)
    finally:
        db.dispose()
