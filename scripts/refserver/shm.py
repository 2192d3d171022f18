"""System (POSIX) shared memory regions registered by clients.

A region is a window [offset, offset + byte_size) of the POSIX shared memory
object named by its key ("/name", as shm_open takes it). The server maps the
object itself, so inputs are read from and outputs written to the client's
memory, as Triton does.
"""

import mmap
import os
import threading


class ShmError(Exception):
    def __init__(self, message, code):
        super().__init__(message)
        self.message = message
        self.code = code  # "NOT_FOUND", "INVALID_ARGUMENT", "ALREADY_EXISTS", "INTERNAL"


class _Region:
    def __init__(self, name, key, offset, byte_size, mapping):
        self.name = name
        self.key = key
        self.offset = offset
        self.byte_size = byte_size
        self.mapping = mapping

    def status(self):
        return {"name": self.name, "key": self.key, "offset": self.offset,
                "byte_size": self.byte_size}


def _shm_path(key):
    # shm_open("/x") is /dev/shm/x on Linux; a key without the slash means the same object.
    name = key[1:] if key.startswith("/") else key
    if not name or "/" in name or name in (".", ".."):
        return None
    return os.path.join("/dev/shm", name)


class SystemShm:
    def __init__(self):
        self._lock = threading.Lock()
        self._regions = {}

    def register(self, name, key, byte_size, offset=0):
        if not name:
            raise ShmError("shared memory region name must not be empty", "INVALID_ARGUMENT")
        if offset < 0 or byte_size < 0:
            raise ShmError("invalid offset or byte size for shared memory region '%s'" % name,
                           "INVALID_ARGUMENT")
        with self._lock:
            if name in self._regions:
                raise ShmError("shared memory region '%s' already in use" % name, "ALREADY_EXISTS")
            path = _shm_path(key)
            try:
                if path is None:
                    raise OSError("invalid key")
                fd = os.open(path, os.O_RDWR)
            except OSError:
                raise ShmError("Unable to open shared memory region: '%s'" % key, "INTERNAL")
            try:
                size = os.fstat(fd).st_size
                if offset + byte_size > size:
                    raise ShmError(
                        "failed to register shared memory region '%s': invalid args" % name,
                        "INVALID_ARGUMENT")
                mapping = mmap.mmap(fd, size) if size > 0 else None
            except (OSError, ValueError) as e:
                raise ShmError("Unable to map shared memory region: '%s': %s" % (key, e), "INTERNAL")
            finally:
                os.close(fd)
            self._regions[name] = _Region(name, key, offset, byte_size, mapping)

    def unregister(self, name=""):
        """Unregisters one region, or all of them when name is empty."""
        with self._lock:
            names = [name] if name else list(self._regions)
            for n in names:
                region = self._regions.pop(n, None)
                if region is not None and region.mapping is not None:
                    try:
                        region.mapping.close()
                    except BufferError:
                        pass  # a reader still holds a view; the mapping dies with it

    def status(self, name=""):
        with self._lock:
            if name:
                if name not in self._regions:
                    raise ShmError("Unable to find system shared memory region: '%s'" % name,
                                   "NOT_FOUND")
                return [self._regions[name].status()]
            # Sorted by name, as Triton lists them (its regions live in a std::map).
            return [self._regions[n].status() for n in sorted(self._regions)]

    def _window(self, name, offset, byte_size):
        region = self._regions.get(name)
        if region is None:
            raise ShmError("Unable to find shared memory region: '%s'" % name, "INVALID_ARGUMENT")
        if offset < 0 or byte_size < 0 or offset + byte_size > region.byte_size:
            raise ShmError("Invalid offset + byte size for shared memory region: '%s'" % name,
                           "INVALID_ARGUMENT")
        return region, region.offset + offset

    def read(self, name, offset, byte_size):
        with self._lock:
            region, start = self._window(name, offset, byte_size)
            if byte_size == 0:
                return b""
            return bytes(region.mapping[start:start + byte_size])

    def write(self, name, offset, data, capacity=None):
        """Writes data at offset within the region; capacity is the byte size the request gave."""
        with self._lock:
            size = len(data) if capacity is None else capacity
            region, start = self._window(name, offset, size)
            if len(data) > size:
                raise ShmError("shared memory region '%s' too small" % name, "INVALID_ARGUMENT")
            if data:
                region.mapping[start:start + len(data)] = data

    def region_size(self, name):
        with self._lock:
            region = self._regions.get(name)
            if region is None:
                raise ShmError("Unable to find shared memory region: '%s'" % name, "INVALID_ARGUMENT")
            return region.byte_size
