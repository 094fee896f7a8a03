"""``python -m jaxmetrics.cli``: the ``jaxmetrics`` command."""

import sys

from jaxmetrics.cli.commands import main

sys.exit(main())
