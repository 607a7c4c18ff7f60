#!/usr/bin/env python3
"""devpeek.py DEVICE [zero OFFSET LEN]

Without "zero": decode the pmcfs superblock at byte 0 of DEVICE from the raw
bytes (independently of libpmcfs) and print key=value lines.  With "zero":
zero LEN bytes at OFFSET (a negative OFFSET counts from the end).

A devdax character device has no read(2)/write(2): it is mapped, in whole
2 MiB pages, as the kernel requires.  Block devices and files use read/write.
"""
import mmap
import os
import stat
import struct
import sys

HUGE = 2 << 20


def size_of(path, fd):
    st = os.fstat(fd)
    if stat.S_ISCHR(st.st_mode):
        name = os.path.basename(os.path.realpath(path))
        with open(f"/sys/bus/dax/devices/{name}/size") as f:
            return int(f.read()), True
    return os.lseek(fd, 0, os.SEEK_END), False


def access(path, off, length, data=None):
    fd = os.open(path, os.O_RDWR if data is not None else os.O_RDONLY)
    try:
        size, dax = size_of(path, fd)
        if off < 0:
            off += size
        if not dax:
            if data is None:
                return os.pread(fd, length, off)
            os.pwrite(fd, data, off)
            os.fsync(fd)
            return None
        base = off // HUGE * HUGE
        span = (off + length - base + HUGE - 1) // HUGE * HUGE
        # the default-argument form: MAP_SHARED|PROT_READ|PROT_WRITE as
        # flags/prot keywords failed with EINVAL on device-dax once
        if data is None:
            m = mmap.mmap(fd, span, offset=base, prot=mmap.PROT_READ)
            try:
                return m[off - base:off - base + length]
            finally:
                m.close()
        m = mmap.mmap(fd, span, offset=base)
        try:
            # no msync: device-dax has no page cache (msync fails with
            # EINVAL there); stores reach the media directly
            m[off - base:off - base + length] = data
        finally:
            m.close()
        return None
    finally:
        os.close(fd)


def main():
    if len(sys.argv) == 5 and sys.argv[2] == "zero":
        off, length = int(sys.argv[3]), int(sys.argv[4])
        access(sys.argv[1], off, length, bytes(length))
        return 0
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    b = access(sys.argv[1], 0, 320)
    (crc, version, magic) = struct.unpack_from("<IIQ", b, 0)
    uuid = b[16:32].hex()
    (bsize, dax_align, nblocks, data_start, data_end, slot_a, slot_b,
     replica) = struct.unpack_from("<IIQQQQQQ", b, 56)
    label = b[128:192].rstrip(b"\0").decode("utf-8", "replace")
    print(f"magic={magic:#018x}")
    print(f"version={version}")
    print(f"uuid={uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}")
    print(f"block_size={bsize}")
    print(f"dax_align={dax_align}")
    print(f"nblocks={nblocks}")
    print(f"data_start={data_start}")
    print(f"data_end={data_end}")
    print(f"slots={slot_a},{slot_b}")
    print(f"replica={replica}")
    print(f"label={label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
