"""Snapshots the rules read (doctor's Evidence, preflight's Facts): data only, no I/O."""
