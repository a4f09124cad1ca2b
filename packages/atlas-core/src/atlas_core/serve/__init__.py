"""``atlas serve``: the ingestion service (gRPC and HTTP/JSON over one ingest pipeline)."""
