"""Hardware effects on weights, each a pure function of ``(key, params)``.

* ``clip``: conductance clip ranges (the paper's constraint);
* ``weight_noise``: Gaussian weight noise ``W + alpha sigma_W N(0, 1)``;
* ``device``: one analog device (differential pair, levels, PCM programming
  noise, drift, read noise); ``presets``: the named devices (``DEVICES``);
* ``analog``: analog inference of an NNX model (every kernel on a device,
  global drift compensation);
* ``grid``: accuracy over settings x draws as one jitted program.
"""
from rvlib.hardware.analog import analog_kernel, analog_model, analog_params
from rvlib.hardware.device import Device, bits_to_levels
from rvlib.hardware.grid import accuracy_grid, device_grid, weight_noise_grid
from rvlib.hardware.presets import DEVICES, get_device
from rvlib.hardware.weight_noise import perturb

__all__ = ["Device", "DEVICES", "get_device", "bits_to_levels", "perturb", "analog_kernel",
           "analog_params", "analog_model", "accuracy_grid", "weight_noise_grid", "device_grid"]
