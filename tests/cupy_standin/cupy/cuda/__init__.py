"""cupy.cuda: fake devices, streams and events.

- Device (https://docs.cupy.dev/en/stable/reference/generated/cupy.cuda.Device.html): `Device(i)` with `.id`, a
  context manager that makes i current and restores the previous device on exit, `use()`, `synchronize()`,
  `compute_capability`, `mem_info`. The current device is per host thread and starts at 0, as in CUDA.
  `Device(None)` is the current device. An id at or past the device count is cudaErrorInvalidDevice when used.
- runtime.getDeviceCount / getDevice / setDevice / getDeviceProperties / driverGetVersion / runtimeGetVersion
  (https://docs.cupy.dev/en/stable/reference/cuda.html, "Runtime API").
- Stream and Event (https://docs.cupy.dev/en/stable/reference/generated/cupy.cuda.Stream.html, .../cupy.cuda.Event.html,
  .../cupy.cuda.get_elapsed_time.html): a stream is a context manager; an event records a time, and
  get_elapsed_time(start, end) gives milliseconds. The stand-in computes synchronously, so recorded times are real.
"""
import time

from .. import _state
from . import memory, runtime  # noqa: F401
from .runtime import CUDARuntimeError  # noqa: F401


class Device:
    def __init__(self, device=None):
        if isinstance(device, Device):
            device = device.id
        self.id = _state.current() if device is None else int(device)
        self._stack = []

    def _check(self):
        if not 0 <= self.id < _state.DEVICE_COUNT:
            raise CUDARuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id}")

    def use(self):
        self._check()
        _state.set_current(self.id)

    def __enter__(self):
        self._check()
        self._stack.append(_state.current())
        _state.set_current(self.id)
        return self

    def __exit__(self, *exc):
        _state.set_current(self._stack.pop())
        return False

    def synchronize(self):
        self._check()

    @property
    def compute_capability(self):
        return "90"

    @property
    def mem_info(self):
        return (80 * 2**30, 80 * 2**30)

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(("cuda", self.id))

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"<CUDA Device {self.id}>"


def get_device_id():
    return _state.current()


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self.disable_timing = disable_timing
        self._t = None

    def record(self, stream=None):
        self._t = time.perf_counter()

    def synchronize(self):
        pass

    @property
    def done(self):
        return True


def get_elapsed_time(start_event, end_event):
    if start_event.disable_timing or end_event.disable_timing:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: event created with disable_timing=True")
    if start_event._t is None or end_event._t is None:
        raise CUDARuntimeError("cudaErrorInvalidResourceHandle: event not recorded")
    return (end_event._t - start_event._t) * 1000.0


class Stream:
    null = None

    def __init__(self, null=False, non_blocking=False, ptds=False):
        self.device_id = _state.current()
        self._prev = []

    def __enter__(self):
        global _current_stream
        self._prev.append(_current_stream)
        _current_stream = self
        return self

    def __exit__(self, *exc):
        global _current_stream
        _current_stream = self._prev.pop()
        return False

    def use(self):
        global _current_stream
        _current_stream = self
        return self

    def synchronize(self):
        pass

    def record(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def wait_event(self, event):
        pass

    @property
    def done(self):
        return True


Stream.null = Stream(null=True)
_current_stream = Stream.null


def get_current_stream(device_id=None):
    return _current_stream
