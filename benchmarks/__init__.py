"""cosbatch benchmarks: cosbatch against the tools users would pick instead, in the same run."""
