"""Command line: ``python -m evidence build [--data-dir D] [--db PATH] [--if-stale]``."""

from __future__ import annotations

import argparse
import sys

from evidence.store.build import DEFAULT_DATA_DIR, DataValidationError, build_database, database_is_stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evidence", description="Evidence store tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="validate data/*.csv and (re)build the DuckDB store atomically")
    build.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="folder with the CSVs (default: data/)")
    build.add_argument("--db", default=None, help="database path (default: <data-dir>/evidence.duckdb)")
    build.add_argument("--if-stale", action="store_true", help="only build when the CSVs changed")
    args = parser.parse_args(argv)

    if args.if_stale and not database_is_stale(args.data_dir, args.db):
        print("Database is up to date; nothing to do.")
        return 0
    try:
        result = build_database(args.data_dir, args.db)
    except DataValidationError as exc:
        print(exc, file=sys.stderr)
        return 1
    counts = ", ".join(f"{n} {t}" for t, n in result.counts.items())
    print(f"Built {result.db_path} (dataset {result.dataset_version}, {counts}) "
          f"in {result.seconds:.2f} s; content hash {result.content_hash[:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
