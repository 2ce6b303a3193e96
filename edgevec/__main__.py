"""``python -m edgevec``: the same command line as the ``edgevec`` console script."""

from edgevec.cli import main

if __name__ == "__main__":
    main()
