#!/usr/bin/env python3
"""make-tree.py DIR: build the crafted populate test tree in DIR (root only).

Every file type (regular, directory, symlink, hard links to a file, a
symlink and a fifo, character and block devices, fifo, socket); names
with every byte except '/' and NUL; 255-byte names; 200 levels of
nesting with 100-byte names (a 20 KiB path, beyond PATH_MAX); 10,000
entries in one directory; a 1 GiB sparse file with data at both ends and
a file with holes inside; xattrs in the user and trusted namespaces
(binary values too), POSIX ACLs (access and default, through setfacl);
odd modes and owners; nanosecond, pre-1970 and far-future times.
Created with *at() calls relative to directory fds, so depth is free.
"""
import os
import socket
import subprocess
import sys

ATIME = 1_000_000_001_123_456_789		# ns: distinctive, so a copy of "now" fails
MTIME = 999_999_999_987_654_321


def write(path, data, dfd=None, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, dir_fd=dfd)
    os.write(fd, data)
    os.close(fd)


def stamp(path, dfd=None, a=ATIME, m=MTIME):
    os.utime(path, ns=(a, m), dir_fd=dfd, follow_symlinks=False)


def main():
    top = sys.argv[1]
    os.makedirs(top)
    os.chdir(top)
    rnd = os.urandom

    # Every file type, and hard links of three of them.
    write("file", b"hello, world\n" * 1000)
    write("empty", b"")
    os.mkdir("sub")
    os.link("file", "hl1")
    os.link("file", "sub/hl2")
    os.symlink("file", "link")
    os.symlink("/nonexistent/dangling", "dangling")
    os.symlink("x" * 4095, "longtarget")		# the longest target Linux has
    os.link("link", "sub/link-hardlink", follow_symlinks=False)
    os.mknod("null", 0o620 | 0o020000, os.makedev(1, 3))
    os.mknod("loop", 0o660 | 0o060000, os.makedev(7, 200))
    os.mknod("bigdev", 0o600 | 0o020000, os.makedev(4095, 1048575))
    os.mkfifo("fifo", 0o640)
    os.link("fifo", "sub/fifo-hardlink")
    s = socket.socket(socket.AF_UNIX)
    s.bind("socket")
    s.close()

    # Modes and owners.
    write("setuid", b"#!/bin/sh\n", mode=0o755)
    os.chmod("setuid", 0o4755)
    write("setgid", b"x", mode=0o755)
    os.chmod("setgid", 0o2711)
    os.mkdir("sticky")
    os.chmod("sticky", 0o1777)
    write("noperm", b"secret")
    os.chmod("noperm", 0)
    write("owned", b"x")
    os.chown("owned", 1234, 5678)
    os.lchown("link", 4321, 8765)
    os.chown("sub", 1000, 1000)

    # Names: every byte except '/' and NUL, alone and inside a name.
    os.mkdir("bytes")
    bfd = os.open("bytes", os.O_RDONLY)
    for b in range(1, 256):
        if b == 0x2F:
            continue
        if b != 0x2E:				# "." alone is not a name
            write(bytes([b]), b"%d\n" % b, dfd=bfd)
        write(b"b" + bytes([b]) + b"e", b"", dfd=bfd)
    write(b"...", b"dots", dfd=bfd)
    write(bytes(range(1, 47)) + bytes(range(48, 256)), b"all bytes in one name", dfd=bfd)
    os.close(bfd)

    # 255-byte names: ASCII, and 85 three-byte UTF-8 characters.
    os.mkdir("long")
    write(b"long/" + b"n" * 255, b"255")
    os.mkdir(b"long/" + b"d" * 255)
    write(b"long/" + b"d" * 255 + b"/" + b"f" * 255, b"inside")
    write(("long/" + "\u20ac" * 85).encode(), b"euro")

    # 200 levels of 100-byte names: a 20 KiB path.
    fd = os.open(".", os.O_RDONLY)
    for i in range(200):
        name = ("%03d" % i) + "d" * 97
        os.mkdir(name, dir_fd=fd)
        nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        if i != 0:
            os.close(fd)
        fd = nfd
    write("bottom", b"deep\n", dfd=fd)
    os.close(fd)

    # 10,000 entries in one directory.
    os.mkdir("many")
    mfd = os.open("many", os.O_RDONLY)
    for i in range(10000):
        os.close(os.open("entry-%05d" % i, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=mfd))
    os.close(mfd)

    # Sparse: 1 GiB with 1 MiB of data at each end; holes inside another.
    with open("sparse-1g", "wb") as f:
        f.write(rnd(1 << 20))
        f.seek((1 << 30) - (1 << 20))
        f.write(rnd(1 << 20))
    with open("holes", "wb") as f:
        f.write(rnd(8192))
        f.seek(5 << 20)
        f.write(rnd(3 << 20))
        f.seek((7 << 20) + (3 << 20) + 123)
        f.write(rnd(5000))
        f.truncate(16 << 20)			# trailing hole
    with open("hole-only", "wb") as f:
        f.truncate(100 << 20)

    # Xattrs (user on files and dirs; trusted anywhere, even symlinks and devices).
    os.setxattr("file", "user.text", b"plain value")
    os.setxattr("file", "user.binary", bytes(range(256)))
    os.setxattr("file", "user.empty", b"")
    os.setxattr("file", "trusted.t", b"trusted value")
    os.setxattr("sub", "user.dir", b"on a directory")
    os.setxattr("link", "trusted.onlink", b"on a symlink", follow_symlinks=False)
    os.setxattr("fifo", "trusted.onfifo", b"on a fifo")
    os.setxattr("null", "trusted.ondev", b"on a device")
    os.setxattr("file", "user." + "k" * 200, b"v" * 500)
    subprocess.run(["setfacl", "-m", "u:1234:rwx,g:5678:r-x,m::rwx", "file"], check=True)
    subprocess.run(["setfacl", "-d", "-m", "u:1234:r-x", "sub"], check=True)
    subprocess.run(["setfacl", "-m", "u:99:r--", "sub"], check=True)

    # Times, last (children first): nanoseconds, before 1970, far future.
    for _, dirnames, filenames, dfd in os.fwalk(".", topdown=False):
        for n in filenames + dirnames:
            stamp(n, dfd=dfd)
    stamp("empty", a=-1_500_000_000, m=-86_400_000_000_001)	# 1969-12-31
    stamp("setgid", a=4_102_444_800_000_000_001, m=2 ** 33 * 10 ** 9 + 7)
    stamp(".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
