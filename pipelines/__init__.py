"""Apache Beam pipelines of cosbatch: one composite PTransform per stage."""
