"""Block outputs as Prefect result records: choose a serializer, store, find."""
