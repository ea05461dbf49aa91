"""EDM (Karras et al. 2022): preconditioning, training loss, schedules, samplers, guidance.

Four separate pieces, as in NVlabs/edm: the network knows nothing about sigma
scaling (`precond`), the loss knows nothing about samplers (`loss`), and the
schedules and samplers (`schedule`, `samplers`, `guidance`) are pure functions
with no torch import, so the serving path can run them over numpy arrays.
"""

from engine.edm.guidance import classifier_free_guidance, paste_known
from engine.edm.samplers import SAMPLERS, sample_dpmpp_2m, sample_euler, sample_heun
from engine.edm.schedule import distilled_sigmas, karras_sigmas

__all__ = [
    "SAMPLERS",
    "classifier_free_guidance",
    "distilled_sigmas",
    "karras_sigmas",
    "paste_known",
    "sample_dpmpp_2m",
    "sample_euler",
    "sample_heun",
]
