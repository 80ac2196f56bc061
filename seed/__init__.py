"""The demo city: a deterministic, synthetic city at real coordinates in central Shanghai."""
