"""``python -m wannflax.docs [--check]``: regenerates or checks docs/.

The command line is ``wannflax.docs.main``; its return value is the exit
status.
"""

import sys

from wannflax.docs import main

if __name__ == "__main__":
    sys.exit(main())
