"""cupy.cuda.memory.MemoryPointer: what `ndarray.data` returns (an address on a device)."""


class MemoryPointer:
    def __init__(self, ptr, device_id):
        self.ptr = ptr
        self.device_id = device_id

    def __int__(self):
        return self.ptr
