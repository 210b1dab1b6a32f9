"""Server-rendered pages: every HTML route, template filter, form and page view-model."""

from fastapi import APIRouter

from seedlab.pages import (
    agents,
    apidocs,
    compare,
    datasets,
    experiments,
    jobs,
    run_pair,
    runs,
    signin,
    static,
)

router = APIRouter(include_in_schema=False)
# apidocs first: static's /static/{version}/{name} would also match /static/swagger-ui-V/NAME.
for module in (
    apidocs, static, signin, jobs, runs, run_pair, compare, datasets, experiments, agents
):
    router.include_router(module.router)
