#!/usr/bin/env python3
"""compare-tree.py [--content] [--skip-top] SRC DST: two trees, entry by entry.

Complements `diff -r --no-dereference` (content) with metadata: file
type, mode, owner, size, nanosecond mtime (and atime, except on
directories and symlinks, whose atime the copy's own readdir or readlink
updates in the source after it was recorded), symlink targets, device
numbers, xattrs of every namespace (ACLs as raw bytes), hard-link
identity (the same groups of names share an inode) and the data/hole map
of regular files (SEEK_DATA/SEEK_HOLE). --content also compares file
bytes, for trees diff cannot walk (paths beyond PATH_MAX). --skip-top
leaves out the metadata of SRC and DST themselves (an extract that
does not touch its destination directory).

Everything is opened relative to a directory fd, so depth is not bounded
by PATH_MAX, and symlinks are never followed. Prints one line per
difference and exits 1 if there is any. Run it before anything else
reads SRC or DST (diff included), so atimes are still the copied ones.
"""
import os
import stat
import sys

O_NOATIME = getattr(os, "O_NOATIME", 0)
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | O_NOATIME
DIR_FLAGS = FILE_FLAGS | os.O_DIRECTORY


def open_at(name, dfd, flags):
    try:
        return os.open(name, flags, dir_fd=dfd)
    except PermissionError:		# O_NOATIME needs ownership
        return os.open(name, flags & ~O_NOATIME, dir_fd=dfd)


def data_map(fd, size):
    """[(start, end)] data ranges of a regular file."""
    ranges, off = [], 0
    while off < size:
        try:
            d = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        ranges.append((d, min(h, size)))
        off = h
    return ranges


def same_bytes(fa, fb, ranges=None):
    """Equal bytes, over ranges [(start, end)] only if given (equal hole maps)."""
    for start, end in ranges if ranges is not None else [(0, None)]:
        off = start
        while end is None or off < end:		# pread: data_map() moved the offsets
            n = 1 << 20 if end is None else min(1 << 20, end - off)
            a, b = os.pread(fa, n, off), os.pread(fb, n, off)
            if a != b:
                return False
            if not a:
                break
            off += len(a)
    return True


def xattrs(dfd, name):
    path = "/proc/self/fd/%d/%s" % (dfd, name)
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names}


class Compare:
    def __init__(self, content, skip_top):
        self.content = content
        self.skip_top = skip_top
        self.diffs = []
        self.count = 0
        self.groups = ({}, {})		# per side: (dev, ino) -> [rel]

    def diff(self, rel, what, x, y):
        self.diffs.append("%s: %s differs: %r != %r" % (rel, what, x, y))

    def entry(self, fds, name, rel):
        """Compare name in the directory pair fds; recurse into directories."""
        st = [os.stat(name, dir_fd=fd, follow_symlinks=False) for fd in fds]
        x, y = st
        self.count += 1
        if rel == "." and self.skip_top:
            sub = [open_at(name, fd, DIR_FLAGS) for fd in fds]
            try:
                self.directory(sub, rel)
            finally:
                for fd in sub:
                    os.close(fd)
            return
        for side in (0, 1):
            s = st[side]
            if not stat.S_ISDIR(s.st_mode) and s.st_nlink > 1:
                self.groups[side].setdefault((s.st_dev, s.st_ino), []).append(rel)
        if stat.S_IFMT(x.st_mode) != stat.S_IFMT(y.st_mode) or (
                not stat.S_ISLNK(x.st_mode) and x.st_mode != y.st_mode):
            self.diff(rel, "mode", oct(x.st_mode), oct(y.st_mode))
            return
        if (x.st_uid, x.st_gid) != (y.st_uid, y.st_gid):
            self.diff(rel, "owner", (x.st_uid, x.st_gid), (y.st_uid, y.st_gid))
        if x.st_mtime_ns != y.st_mtime_ns:
            self.diff(rel, "mtime", x.st_mtime_ns, y.st_mtime_ns)
        if not (stat.S_ISDIR(x.st_mode) or stat.S_ISLNK(x.st_mode)) and \
                x.st_atime_ns != y.st_atime_ns:
            self.diff(rel, "atime", x.st_atime_ns, y.st_atime_ns)
        if not stat.S_ISDIR(x.st_mode) and x.st_size != y.st_size:
            self.diff(rel, "size", x.st_size, y.st_size)
        if (stat.S_ISCHR(x.st_mode) or stat.S_ISBLK(x.st_mode)) and x.st_rdev != y.st_rdev:
            self.diff(rel, "rdev", x.st_rdev, y.st_rdev)
        xa, xb = xattrs(fds[0], name), xattrs(fds[1], name)
        if xa != xb:
            self.diff(rel, "xattrs", xa, xb)
        if stat.S_ISLNK(x.st_mode):
            ta, tb = (os.readlink(name, dir_fd=fd) for fd in fds)
            if ta != tb:
                self.diff(rel, "symlink target", ta, tb)
        elif stat.S_ISREG(x.st_mode):
            self.file(fds, name, rel, x, y)
        elif stat.S_ISDIR(x.st_mode):
            sub = [open_at(name, fd, DIR_FLAGS) for fd in fds]
            try:
                self.directory(sub, rel)
            finally:
                for fd in sub:
                    os.close(fd)

    def file(self, fds, name, rel, x, y):
        sparse = x.st_blocks * 512 < x.st_size or y.st_blocks * 512 < y.st_size
        if not sparse and not self.content:
            return
        fa, fb = (open_at(name, fd, FILE_FLAGS) for fd in fds)
        try:
            ranges = None
            if sparse:
                ma, mb = data_map(fa, x.st_size), data_map(fb, y.st_size)
                if ma != mb:
                    self.diff(rel, "data/hole map", ma[:8], mb[:8])
                else:
                    ranges = ma		# holes read as zeros on both sides
            if self.content and not same_bytes(fa, fb, ranges):
                self.diffs.append("%s: content differs" % rel)
        finally:
            os.close(fa)
            os.close(fb)

    def directory(self, fds, rel):
        na, nb = (set(os.listdir(fd)) for fd in fds)
        for n in sorted(na - nb):
            self.diffs.append("%s: only in the source" % os.path.join(rel, n))
        for n in sorted(nb - na):
            self.diffs.append("%s: only in the copy" % os.path.join(rel, n))
        for n in sorted(na & nb):
            self.entry(fds, n, os.path.join(rel, n))

    def links(self):
        """Hard-link identity: each name's group of names, on both sides."""
        of = []
        for side in (0, 1):
            m = {}
            for names in self.groups[side].values():
                key = tuple(sorted(names))
                for n in names:
                    m[n] = key
            of.append(m)
        for rel in sorted(set(of[0]) | set(of[1])):
            if of[0].get(rel) != of[1].get(rel):
                self.diff(rel, "hard links", of[0].get(rel), of[1].get(rel))


def main():
    args = sys.argv[1:]
    content, skip_top = "--content" in args, "--skip-top" in args
    args = [a for a in args if a not in ("--content", "--skip-top")]
    if len(args) != 2:
        print("usage: compare-tree.py [--content] [--skip-top] SRC DST", file=sys.stderr)
        return 2
    c = Compare(content, skip_top)
    tops = [os.open(a, os.O_RDONLY | os.O_DIRECTORY) for a in args]
    c.entry(tops, ".", ".")
    c.links()
    for d in c.diffs[:200]:
        print(d)
    if len(c.diffs) > 200:
        print("... %d differences in all" % len(c.diffs))
    print("compared %d entries: %d differences" % (c.count, len(c.diffs)), file=sys.stderr)
    return 1 if c.diffs else 0


if __name__ == "__main__":
    sys.exit(main())
