"""The delivery ledger: one row per (event, channel, target), one row per attempt, the
claims on them, their running tallies, and what a channel left out."""
