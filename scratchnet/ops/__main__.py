"""`python -m scratchnet.ops --table`: print the op reference (op | forward | backward) read from the docstrings."""
import argparse
import sys

from .doctable import table


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchnet.ops", description=__doc__)
    parser.add_argument("--table", action="store_true", help="print the Markdown op table")
    args = parser.parse_args(argv)
    if not args.table:
        parser.print_help()
        return 2
    sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
