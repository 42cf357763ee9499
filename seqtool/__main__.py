"""``python -m seqtool`` runs the command line."""

from seqtool.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
