"""`python -m scratchnet.ops --table`: print the op reference (op | forward | backward) read from the docstrings;
`--readme README.md` writes it between the file's op-table markers instead (what `make op-table` runs)."""
import argparse
import sys

from .doctable import table, write_into


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scratchnet.ops", description=__doc__)
    parser.add_argument("--table", action="store_true", help="print the Markdown op table")
    parser.add_argument("--readme", metavar="PATH", help="write the table between PATH's op-table markers")
    args = parser.parse_args(argv)
    if args.readme:
        try:
            write_into(args.readme)
        except (OSError, ValueError) as e:
            parser.exit(1, f"error: {e}\n")
        return 0
    if not args.table:
        parser.print_help()
        return 2
    sys.stdout.write(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
