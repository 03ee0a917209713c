"""Scale-out on Apache Spark: the training and precompute jobs on a cluster (optional extra).

The only package that imports PySpark, and only inside functions: ``import tailorcrm.spark``
works without it. See ``docs/scale-out.md``.
"""
