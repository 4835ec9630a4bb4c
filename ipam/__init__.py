"""IP address management: pools, the in-memory allocator, leases and utilisation."""
