"""Package layout: the code under backend/, the pages and migrations from the top level.

frontend/ and alembic/ live at the top of the repository and ship inside the package as
seedlab.frontend and seedlab.migrations (namespace packages: alembic/ has no __init__.py, so it
can never shadow the alembic library). pyproject.toml's packages.find cannot map folders outside
backend/, so the package list is computed here; everything else lives in pyproject.toml. In a
source tree or an editable install, backend/seedlab/frontend and backend/seedlab/migrations are
symbolic links to the same folders, so importlib.resources finds them in every mode.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages("backend"),
        # The start-up hook of command experiments: a directory without __init__.py (it is put
        # on PYTHONPATH, never imported as seedlab.runner.hook), shipped with its sitecustomize.
        "seedlab.runner.hook",
        "seedlab.frontend",
        "seedlab.migrations",
        "seedlab.migrations.versions",
    ],
    package_dir={
        "": "backend",
        "seedlab.frontend": "frontend",
        "seedlab.migrations": "alembic",
    },
)
