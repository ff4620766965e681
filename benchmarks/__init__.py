"""keras_heads benchmarks: `make bench` prints the table (see README.md)."""
