"""Benchmarks: measurements of the running bot, not tests. See bench/ack_latency.py."""
