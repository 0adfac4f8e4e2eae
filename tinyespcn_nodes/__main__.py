import sys

from .hosts.cli.main import main

sys.exit(main())
