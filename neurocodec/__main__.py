import sys

from neurocodec.cli.main import main

sys.exit(main())
