"""Parquet files written from rows as they come, for datasets too big to hold (hub.save_dataset's
`Streamed` splits): a batch of Python rows becomes Arrow columns, the columns gathered up to
`ROW_GROUP_BYTES` become one row group. Written as hub's `_write_parquet` does
(`hub.PARQUET_OPTIONS`: zstd...); the HF features in the schema, as datasets writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Streamed:
    """A split written row by row as `save_dataset`'s `fill` gives its rows: never all in memory."""
    features: Any
    batch_rows: int = 1_000  # Python rows held before they become Arrow columns


ROW_GROUP_BYTES = 64 << 20  # of Arrow data per row group: smaller groups compress worse (zstd restarts per page)
PAGE_BYTES = 8 << 20


class ParquetRows:
    """One Parquet file written from rows as they come: at most `batch_rows` Python rows held, then
    Arrow columns, at most `ROW_GROUP_BYTES` of them, then one row group (zstd, as `_write_parquet`);
    the HF features in its schema, as datasets writes them."""

    def __init__(self, path: Path, features: Any, batch_rows: int) -> None:
        from .hub import open_parquet

        self.features, self.batch_rows, self.schema = features, batch_rows, features.arrow_schema
        self.writer = open_parquet(path, self.schema, data_page_size=PAGE_BYTES)
        self.rows: list[dict] = []
        self.columns: list[Any] = []  # Arrow tables of the row group being gathered
        self.column_bytes = self.written = 0

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch_rows:
            self._to_columns()
            if self.column_bytes >= ROW_GROUP_BYTES:
                self.flush()

    def _to_columns(self) -> None:
        import pyarrow as pa

        table = pa.Table.from_pylist([self.features.encode_example(r) for r in self.rows], schema=self.schema)
        self.rows = []
        self.columns.append(table)
        self.column_bytes += table.nbytes

    def flush(self) -> None:
        """Write what is held as one row group."""
        import pyarrow as pa

        if self.rows:
            self._to_columns()
        if self.columns:
            group = pa.concat_tables(self.columns)
            self.writer.write_table(group, row_group_size=group.num_rows)
            self.written += group.num_rows
            self.columns, self.column_bytes = [], 0

    def close(self) -> None:
        from .hub import close_parquet

        self.flush()
        close_parquet(self.writer, self.schema)
