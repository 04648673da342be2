"""Apache Beam pipelines of cosbatch: one composite PTransform per stage.

They must not import the controller, launch or the surfaces; they talk back through cosbatch.control.
"""
