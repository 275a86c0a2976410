"""``python -m storj``: the ``storj`` command line."""

from storj.cli import main

if __name__ == "__main__":
    main()
