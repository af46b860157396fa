"""`python -m ganstudio` runs the command line (and, under torchrun, the trainer)."""

import multiprocessing

from ganstudio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen bundle's spawn workers start here
    raise SystemExit(main())
