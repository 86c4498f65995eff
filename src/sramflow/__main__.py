import sys

from sramflow.cli import main

sys.exit(main())
