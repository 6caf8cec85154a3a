"""Helpers of `make bench` (bench/run.py): request counting at the emulator, a fake Lambda Runtime API that
starts and drives function processes, and the report (table, JSON, SVG)."""
