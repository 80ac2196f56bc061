"""Domain services: the only writers of the one map. Each aggregate has one writer module."""
