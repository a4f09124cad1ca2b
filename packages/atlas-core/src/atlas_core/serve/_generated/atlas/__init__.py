# Regenerate with `uv run python scripts/gen_proto.py`: do not edit by hand.
