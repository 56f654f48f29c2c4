import sys

from mlkube.cli.main import main

sys.exit(main())
