"""`python -m ganstudio` runs the command line (and, under torchrun, the trainer)."""

from ganstudio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
