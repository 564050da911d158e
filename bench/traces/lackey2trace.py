#!/usr/bin/env python3
"""Converts `valgrind --tool=lackey --trace-mem=yes` output to a uswap page
trace (doc/policies.md, mm/policy/trace.h).

Each I/L/S/M line's address becomes a page (address >> 12); consecutive
references to one page collapse into one (a cache of any size hits them).
Stores and modifies mark the page written (u32's bit 31, text's "w").

usage: lackey2trace.py [--format text|u32|u64] [--no-instr] [IN|-] [OUT|-]
"""
import argparse
import struct
import sys


def pages(lines, instr):
    last = None
    for line in lines:
        # " L 04222cac,4", "I  04222cac,3"; other lines are valgrind's own.
        if len(line) < 4 or line[0] not in " I" or line[:2] == "==":
            continue
        kind = line[:2].strip()
        if kind not in ("I", "L", "S", "M") or (kind == "I" and not instr):
            continue
        try:
            addr = int(line[3:].split(",", 1)[0], 16)
        except ValueError:
            continue
        page = addr >> 12
        write = kind in ("S", "M")
        if page == last:
            continue
        last = page
        yield page, write


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--format", choices=("text", "u32", "u64"), default="u32")
    ap.add_argument("--no-instr", action="store_true", help="leave out instruction fetches")
    ap.add_argument("input", nargs="?", default="-")
    ap.add_argument("output", nargs="?", default="-")
    a = ap.parse_args()
    src = sys.stdin if a.input == "-" else open(a.input, errors="replace")
    dst = sys.stdout.buffer if a.output == "-" else open(a.output, "wb")
    buf = bytearray()
    n = 0
    for page, write in pages(src, not a.no_instr):
        if a.format == "text":
            buf += b"%d%s\n" % (page, b" w" if write else b"")
        elif a.format == "u32":
            if page >= 1 << 31:
                sys.exit("lackey2trace: page %#x does not fit u32 (use --format u64)" % page)
            buf += struct.pack("<I", page | (1 << 31 if write else 0))
        else:
            buf += struct.pack("<Q", page)
        n += 1
        if len(buf) > 1 << 20:
            dst.write(buf)
            buf.clear()
    dst.write(buf)
    dst.flush()
    if n == 0:
        sys.exit("lackey2trace: no memory reference in the input")


if __name__ == "__main__":
    main()
