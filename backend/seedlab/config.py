"""Settings read from the environment (prefix SEEDLAB_): the one reader of SEEDLAB_ variables.

The start-up hook inside a command experiment's interpreter (runner/starthook.py) is the one
exception: it reads its own variables there, before anything of seedlab but the hook is loaded.
tests/architecture/test_settings_only.py checks both.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Literal

from platformdirs import user_data_path
from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_MAX_ZYGOTES = 2
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MIB = 1024 * 1024
ENV_PREFIX = "SEEDLAB_"


class Settings(BaseSettings):
    """Server and agent settings; every field can be set as SEEDLAB_<NAME>."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # One place per user (e.g. ~/.local/share/seedlab), whatever the current directory; a
    # project keeps its own with SEEDLAB_DATA_DIR=./seedlab-data.
    data_dir: Path = Field(default_factory=lambda: user_data_path("seedlab"))
    database_url: str | None = None
    agent_token: str | None = None
    # Ray cluster `seedlab agent --executor ray` joins (host:port of the head, or "auto").
    ray_address: str | None = None
    # "none": tokenless (loopback only); "required": every API call, agent call and page needs
    # a token (or a signed-in browser session).
    auth: Literal["none", "required"] = "none"
    # Host header names the server answers to (DNS-rebinding defence); the bound host is added.
    allowed_hosts: list[str] = Field(default_factory=lambda: list(LOOPBACK_HOSTS))
    # Request body limits in bytes: every route, and the agents' point batches and finish calls.
    max_body_bytes: int = Field(default=1 * MIB, ge=1024)
    max_points_body_bytes: int = Field(default=32 * MIB, ge=1024)
    max_finish_body_bytes: int = Field(default=16 * MIB, ge=1024)
    # An agent's catalog: up to 500 experiments with their parameter schemas.
    max_advertisement_body_bytes: int = Field(default=16 * MIB, ge=1024)
    lease_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=20)
    max_runs_per_job: int = Field(default=1000, ge=1)
    reaper_interval_seconds: float = Field(default=5.0, gt=0)
    # Client side: the server the CLI and agents talk to.
    server: str = DEFAULT_SERVER
    # Client side: the API token every client command sends (--token).
    token: str | None = None
    # Agent side: zygotes kept alive per agent (each keeps TensorFlow imported, ~640 MB).
    max_zygotes: int = Field(default=DEFAULT_MAX_ZYGOTES, ge=1)
    # Agent side: a zygote's spare child copies the pages it inherited while it waits (about
    # 130 MB and 0.16 s of CPU per run) so that its run takes fewer page faults. Off by default:
    # on a machine whose cores all train, the copy costs more than it saves.
    spare_copies_pages: bool = False
    # Uploaded CSV data sets larger than this are refused (413) while they stream in.
    max_dataset_bytes: int = Field(default=50 * 2**20, ge=1)
    # Agent and run-process side: the user experiment sources, a JSON list (as an agent hands
    # them to its run processes) or comma-separated (as people set them); experiments/loader.py
    # parses them.
    experiment_sources: str | None = None
    # The older spelling: comma-separated importable modules that define `EXPERIMENTS`.
    experiment_modules: str | None = None
    # Set by `seedlab up` on the agents it starts, so they die with it (lifetime.py).
    parent_pid: int | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings a process started with this environment reads (a child's, say)."""
        source = EnvSettingsSource(cls)
        source.env_vars = {name.lower(): value for name, value in environ.items()}
        return _Given(**source())

    def resolved_database_url(self) -> str:
        """The database URL: SEEDLAB_DATABASE_URL, or SQLite inside the data directory."""
        if self.database_url:
            return self.database_url
        # 0700: the database holds every result and token hash (db.make_engine makes it 0600).
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'seedlab.db').resolve()}"


class _Given(Settings):
    """Settings from the given values only (Settings.from_environ), not this process's."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The constructor's arguments, nothing else."""
        return (init_settings,)


def env_name(field: str) -> str:
    """The variable that sets a Settings field, for a child process's environment."""
    if field not in Settings.model_fields:
        raise KeyError(f"Settings has no field {field!r}")
    return ENV_PREFIX + field.upper()


@lru_cache
def get_settings() -> Settings:
    """Process-wide settings (cached)."""
    return Settings()


def default_agent_count() -> int:
    """One local agent per CPU core."""
    return max(1, os.cpu_count() or 1)
