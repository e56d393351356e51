"""Benchmarks (`companion bench ...`) and the recordings they synthesize: out of the runtime
path; nothing below the CLI imports them."""
