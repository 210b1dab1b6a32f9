"""seedlab's start-up hook for command experiments; see seedlab.runner.starthook.

This directory is put first on PYTHONPATH of a command's interpreter only, so Python imports this
module at start-up, before the script's first line.
"""

import seedlab.runner.starthook

seedlab.runner.starthook.start()
