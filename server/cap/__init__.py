"""The CAP 1.2 warnings feed at ``/cap``: each alert as CAP XML and an Atom index of the
current ones (docs/warnings.md)."""
