"""``python -m privdomain``: see :mod:`privdomain.cli`."""

import sys

from privdomain.cli import main

if __name__ == "__main__":
    sys.exit(main())
