"""Every ORM model, imported once so the metadata is complete (Alembic, create_all)."""

from seedlab.datasets.models import Dataset
from seedlab.db import Base
from seedlab.experiments.models import AgentCatalog, AgentExperiment, ExperimentRecord
from seedlab.fingerprints.models import Fingerprint
from seedlab.jobs.models import Job
from seedlab.queue.models import Agent
from seedlab.runs.models import MetricPoint, Run, RunAttempt, RunCurve, RunTrace
from seedlab.security.models import SigninSession
from seedlab.tokens.models import ApiToken

__all__ = [
    "Agent",
    "AgentCatalog",
    "AgentExperiment",
    "ApiToken",
    "Base",
    "Dataset",
    "ExperimentRecord",
    "Fingerprint",
    "Job",
    "MetricPoint",
    "Run",
    "RunAttempt",
    "RunCurve",
    "RunTrace",
    "SigninSession",
]
