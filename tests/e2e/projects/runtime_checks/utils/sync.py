"""Shared by blocks that must run at the same time (a barrier would time out if run one by one)."""
import threading

BARRIER = threading.Barrier(2, timeout=20)

# `pause` and `fail_while_paused` (pipeline `halts`): both are running when the latter fails
PAUSE = threading.Barrier(2, timeout=20)
