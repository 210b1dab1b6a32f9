"""The run spec: one typed model from the server's claim to the run process.

TensorFlow-free (pydantic and the profile only): the server builds it at the claim (the claim
answer, `queue.schemas.RunAssignment`, is this model plus the lease), the agent completes it
with the local paths of the run's data sets, the executor hands it to the run process as JSON,
and the run process (`runner/child.py`, `runner/command.py`, the start-up hook) reads it back
with `RunSpec.parse`. Every boundary validates it; nothing indexes it as a dict.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from seedlab.profiles import Profile

Spec = TypeVar("Spec", bound=BaseModel)


class RunSpecError(ValueError):
    """A run spec that does not validate: the run process refuses it with this message."""


def parse_spec(model: type[Spec], raw: str | bytes) -> Spec:
    """The model in this JSON; RunSpecError naming every problem when it does not validate."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'spec'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise RunSpecError(f"malformed run spec: {problems}") from None


class RunSpec(BaseModel):
    """Everything a run process needs to execute one attempt of a run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: int
    attempt: int
    experiment: str
    params: dict[str, Any]
    # The init seed: Python, NumPy and TF's global seeds.
    seed: int
    profile: Profile
    # Seeds of the data order and the split when they are the run's own (decompose jobs);
    # None follows `seed`.
    order_seed: int | None = None
    split_seed: int | None = None
    # GPUs the job requires; an executor that schedules them (Ray) asks for this many.
    gpus: int = 0
    # CPU cores each run needs (requires.cpus); the Ray executor reserves this many. Defaults
    # to one so a spec written before the field existed still validates.
    cpus: int = 1
    # sha256 -> local path of each data set the agent downloaded (and verified) for the run.
    # Filled by the agent, never by the server: left out of the JSON while empty.
    datasets: dict[str, str] = Field(default_factory=dict, exclude_if=lambda value: not value)
    # Where a Ray task runs it (Ray's version, node id, host, worker pid), for the fingerprint;
    # filled in the Ray worker.
    ray: dict[str, Any] | None = Field(default=None, exclude_if=lambda value: value is None)

    @classmethod
    def parse(cls, raw: str | bytes) -> RunSpec:
        """The spec in this JSON; RunSpecError naming every problem when it does not validate."""
        return parse_spec(RunSpec, raw)

    def only_spec(self) -> RunSpec:
        """This spec alone, without the fields a subclass (the claim answer) adds."""
        if type(self) is RunSpec:
            return self
        return RunSpec.model_validate(self.model_dump(include=set(RunSpec.model_fields)))
