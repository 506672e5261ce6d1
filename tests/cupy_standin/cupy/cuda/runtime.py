"""cupy.cuda.runtime: device count and properties of the fake devices."""
from .. import _state


class CUDARuntimeError(RuntimeError):
    pass


def getDeviceCount():
    return _state.DEVICE_COUNT


def getDevice():
    return _state.current()


def setDevice(device):
    if not 0 <= int(device) < _state.DEVICE_COUNT:
        raise CUDARuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {device}")
    _state.set_current(int(device))


def getDeviceProperties(device):
    return {"name": f"CuPy stand-in device {device} (NumPy)".encode(), "totalGlobalMem": 80 * 2**30,
            "major": 9, "minor": 0, "multiProcessorCount": 1}


def driverGetVersion():
    return 12080


def runtimeGetVersion():
    return 12080


is_hip = False
