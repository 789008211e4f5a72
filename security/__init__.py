"""The security scanners that `make scan` runs (docs/scanning.md)."""
