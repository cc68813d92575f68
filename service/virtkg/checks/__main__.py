"""``python -m virtkg.checks``: run every knowledge-base check (same as ``virtkg check``)."""

import sys

from virtkg.checks import main

sys.exit(main(sys.argv[1:]))
