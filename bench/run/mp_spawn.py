# python3 multiprocessing with the spawn start method (what works under
# `uswap run` until fork is supported): 8 tasks on 4 workers, ~80 MiB each.
import multiprocessing as mp
def work(i):
    data = [bytes([i]) * 4096 for _ in range(20000)]  # ~80 MiB per worker
    return i, sum(len(d) for d in data), data[123][0]
if __name__ == "__main__":
    mp.set_start_method("spawn")
    with mp.Pool(4) as p:
        print(sorted(p.map(work, range(8))))
