"""A writer process for the durability test: streams batches, acknowledging each one.

Usage: python memory_writer.py STORE_URL BATCH_ROWS
Prints ``ack <batch>`` on stdout after each write returned (i.e. committed), forever.
"""

from __future__ import annotations

import sys

import polars as pl

from atlas_core.ids import new_ids
from atlas_core.store import open_store


def main() -> None:
    url, rows = sys.argv[1], int(sys.argv[2])
    store = open_store(url)
    batch = 0
    while True:
        frame = pl.DataFrame(
            {
                "id": new_ids(rows),
                "tenant_id": ["acme"] * rows,
                "interaction_id": new_ids(rows),
                "kind": ["signal"] * rows,
                "name": [f"b{batch}"] * rows,
                "text": ["x" * 200] * rows,
                "created_at": [batch] * rows,
            }
        )
        store.write_feedback(frame)
        print(f"ack {batch}", flush=True)
        batch += 1


if __name__ == "__main__":
    main()
