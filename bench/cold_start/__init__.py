"""Cold start benchmark (`python -m bench.cold_start`)."""
