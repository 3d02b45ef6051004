"""`python -m exporter.cli`: the `lagwatch` command."""

import sys

from exporter.cli import main

sys.exit(main())
