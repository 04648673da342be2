"""Apache Beam pipelines of cosbatch: one composite PTransform per stage.

They must not import the controller, launch or the surfaces; they talk back through cosbatch.control.
"""

from pipelines.state_sampler import install as _install_state_sampler

_install_state_sampler()
