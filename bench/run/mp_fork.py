# python3 multiprocessing with the fork start method (the case): a
# parent builds ~512 MiB of objects, then a pool of 4 workers forked from it
# each verifies a share of the inherited data and hashes it. The output is
# the same with and without `uswap run`; a worker that read anything but
# what the parent had at fork time changes it.
import hashlib
import multiprocessing as mp
import sys

MIB = int(sys.argv[1]) if len(sys.argv) > 1 else 512
N = MIB * 1024 * 1024 // 4096
data = [bytes([i % 251]) * 4000 + i.to_bytes(8, "little") * 12 for i in range(N)]


def check(part):
    h = hashlib.sha256()
    bad = 0
    for i in range(part, N, 4):
        d = data[i]
        if d[0] != i % 251 or d[-8:] != i.to_bytes(8, "little"):
            bad += 1
        h.update(d)
    return part, bad, h.hexdigest()


if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Pool(4) as p:
        for part, bad, digest in p.map(check, range(4)):
            print(part, bad, digest)
