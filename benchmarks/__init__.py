"""Speed and memory benchmarks of privdomain against named peer libraries (``make bench``)."""
