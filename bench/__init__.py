"""Benchmark of django-dualauth beside its peers (issue 3). See bench/README.md."""
