#!/usr/bin/env python3
"""PMCFZ fuzz inputs and regression patches for pmcfs images.

PMCFZ (the fuzz input format, see tests/fuzz/harness.c): a 16-byte header
("PMCFZ1\\n\\0", le32 nblocks, le32 0) and records (le32 block number,
4096 bytes). Blocks not listed are zero. It keeps an 8 MiB image under
AFL++'s 1 MiB input limit: only blocks in the reserved areas and blocks
the space map marks in use are stored, and all-zero blocks never are.

Regression patches (tests/fuzz/regress/*.patch) are text, applied to an
image made by tests/fuzz/age.sh VARIANT:

    # one-line description
    base VARIANT                  age.sh variant the patch applies to
    size NBLOCKS                  optional: the image is cut or grown to this
    zero BLOCK                    the block is zeroed
    copy BLOCK FROM               BLOCK becomes a copy of FROM (before any change)
    set BLOCK OFFSET HEXBYTES     bytes written at BLOCK*4096+OFFSET
    crc BLOCK                     recompute BLOCK's checksum (superblock or
                                  tree block: whole block; commit slot: record)

Commands:
    pack IMG OUT [ALLOC_JSON]      image -> PMCFZ (ALLOC_JSON: pmcfs-dump --json alloc)
    unpack IN IMG                  PMCFZ -> image
    apply BASE_IMG PATCH OUT_IMG   apply a regression patch
    diff BASE_IMG IMG VARIANT      print a patch that turns BASE_IMG into IMG
    minimize BASE_IMG PATCH OUT CMD...
                                   drop patch lines while CMD (with {} = the
                                   patched image) still fails; write OUT
"""
import os
import struct
import subprocess
import sys
import tempfile

BLK = 4096
MAGIC = b"PMCFZ1\n\0"
TREE_MAGICS = (0x31534650, 0x31545250, 0x314D5350)
SB_MAGIC = 0x3142535346434D50
COMMIT_MAGIC = 0x314D4F4346434D50


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = _T
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def fix_crc(block):
    """Recompute the checksum of a superblock, commit slot or tree block."""
    b = bytearray(block)
    if struct.unpack_from("<Q", b, 0)[0] == COMMIT_MAGIC:
        struct.pack_into("<I", b, 124, crc32c(bytes(b[:124])))
    else:	# superblock and tree blocks: whole block, crc field (offset 0) as 0
        struct.pack_into("<I", b, 0, 0)
        struct.pack_into("<I", b, 0, crc32c(bytes(b)))
    return bytes(b)


def in_use_blocks(alloc_json, nblocks):
    import json
    with open(alloc_json) as f:
        runs = json.load(f)["runs"]
    used = set()
    for r in runs:
        if r["refcount"] > 0 and r["owner"] != 1:	# not bad blocks
            used.update(range(r["start"], min(r["start"] + r["len"], nblocks)))
    return used


def pack(img, out, alloc_json=None):
    data = open(img, "rb").read()
    nblocks = len(data) // BLK
    used = in_use_blocks(alloc_json, nblocks) if alloc_json else None
    res = bytearray(MAGIC + struct.pack("<II", nblocks, 0))
    for i in range(nblocks):
        blk = data[i * BLK:(i + 1) * BLK]
        if blk.count(0) == BLK:
            continue
        if used is not None and i not in used:
            continue
        res += struct.pack("<I", i) + blk
    with open(out, "wb") as f:
        f.write(res)


def unpack(inp, img):
    data = open(inp, "rb").read()
    nblocks = struct.unpack_from("<I", data, 8)[0] if len(data) >= 12 else 0
    nblocks = min(nblocks, 8192)
    with open(img, "wb") as f:
        f.truncate(nblocks * BLK)
        off = 16
        while off + 4 < len(data):
            blk = struct.unpack_from("<I", data, off)[0]
            if blk < nblocks:
                f.seek(blk * BLK)
                f.write(data[off + 4:off + 4 + BLK])
            off += 4 + BLK


def parse_patch(path):
    lines = []
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            lines.append(line.split())
    return lines


def apply_lines(base, lines, out):
    data = bytearray(open(base, "rb").read())
    orig = bytes(data)
    for w in lines:
        op = w[0]
        if op in ("base",):
            continue
        if op == "size":
            n = int(w[1]) * BLK
            data = data[:n] + bytes(max(0, n - len(data)))
            continue
        blk = int(w[1])
        o = blk * BLK
        if o + BLK > len(data):
            continue
        if op == "zero":
            data[o:o + BLK] = bytes(BLK)
        elif op == "copy":
            f = int(w[2]) * BLK
            data[o:o + BLK] = orig[f:f + BLK]
        elif op == "set":
            b = bytes.fromhex(w[3])
            p = o + int(w[2])
            data[p:p + len(b)] = b
        elif op == "crc":
            data[o:o + BLK] = fix_crc(data[o:o + BLK])
        else:
            raise SystemExit("pmcfz: bad patch line: " + " ".join(w))
    with open(out, "wb") as f:
        f.write(data)


def diff(base, img, variant):
    a = open(base, "rb").read()
    b = open(img, "rb").read()
    out = ["base %s" % variant]
    if len(a) != len(b):
        out.append("size %d" % (len(b) // BLK))
    for i in range(min(len(a), len(b)) // BLK):
        x, y = a[i * BLK:(i + 1) * BLK], b[i * BLK:(i + 1) * BLK]
        if x == y:
            continue
        if y.count(0) == BLK:
            out.append("zero %d" % i)
            continue
        src = next((j for j in range(len(a) // BLK) if a[j * BLK:(j + 1) * BLK] == y), None)
        if src is not None:
            out.append("copy %d %d" % (i, src))
            continue
        crc_ok = fix_crc(y) == y
        # byte runs that differ, merged across gaps of under 4 bytes; the
        # checksum field is recomputed (crc line), not set
        skip = range(124, 128) if struct.unpack_from("<Q", y, 0)[0] == COMMIT_MAGIC else range(0, 4)
        idx = [j for j in range(BLK) if x[j] != y[j] and not (crc_ok and j in skip)]
        runs = []
        for j in idx:
            if runs and j - runs[-1][1] < 4:
                runs[-1][1] = j + 1
            else:
                runs.append([j, j + 1])
        for s0, e0 in runs:
            out.append("set %d %d %s" % (i, s0, y[s0:e0].hex()))
        if crc_ok:
            out.append("crc %d" % i)
    print("\n".join(out))


def fails(base, lines, cmd):
    with tempfile.NamedTemporaryFile(suffix=".img") as t:
        apply_lines(base, lines, t.name)
        argv = [a.replace("{}", t.name) for a in cmd]
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0


def minimize(base, patch, out, cmd):
    lines = parse_patch(patch)
    if not fails(base, lines, cmd):
        raise SystemExit("pmcfz: the patch does not fail to start with")
    i = 0
    while i < len(lines):
        if lines[i][0] in ("base", "crc"):
            i += 1
            continue
        trial = lines[:i] + lines[i + 1:]
        if fails(base, trial, cmd):
            lines = trial
        else:
            i += 1
    # crc lines only for blocks still changed; drop any that are not needed
    i = 0
    while i < len(lines):
        if lines[i][0] == "crc":
            trial = lines[:i] + lines[i + 1:]
            if fails(base, trial, cmd):
                lines = trial
                continue
        i += 1
    with open(out, "w") as f:
        f.write("\n".join(" ".join(w) for w in lines) + "\n")


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    c = argv[1]
    if c == "pack" and len(argv) in (4, 5):
        pack(argv[2], argv[3], argv[4] if len(argv) == 5 else None)
    elif c == "unpack" and len(argv) == 4:
        unpack(argv[2], argv[3])
    elif c == "apply" and len(argv) == 5:
        apply_lines(argv[2], parse_patch(argv[3]), argv[4])
    elif c == "diff" and len(argv) == 5:
        diff(argv[2], argv[3], argv[4])
    elif c == "minimize" and len(argv) >= 6:
        minimize(argv[2], argv[3], argv[4], argv[5:])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
