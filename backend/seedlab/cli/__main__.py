"""`python -m seedlab.cli`: how `seedlab up` starts its local agents."""

from seedlab.cli import main

main()
