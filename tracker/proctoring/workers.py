"""The face worker pool: face work runs in separate processes, so that it never blocks the web server.

Each worker loads the face models once (its initializer). The queue is bounded: a request that finds it
full waits with a short, growing backoff and tries again (it is never dropped); only after `wait` seconds
of a full queue does it give up with FaceBusy (the API answers 503 and the player tries again).
"""
import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from concurrent.futures.process import BrokenProcessPool

from tracker.proctoring import faces


class FaceBusy(Exception):
    """The queue stayed full for the whole wait."""


def default_workers():
    return max(1, min(2, os.cpu_count() or 1))


def _exit_with_parent(parent, every=1.0):
    """A server killed outright (SIGTERM, SIGKILL) never shuts its pool down: its workers would wait forever."""
    while True:
        time.sleep(every)
        if os.getppid() != parent:
            os._exit(0)


def _init_worker(nice):
    import cv2

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="exit-with-parent").start()
    cv2.setNumThreads(1)  # one core per worker: the pool is the parallelism
    if nice:
        try:
            os.nice(nice)  # web requests first when the machine is busy
        except OSError:
            pass
    faces.load_models()


class FacePool:
    def __init__(self, workers=None, queue_size=None, wait=30.0, nice=5):
        self.workers = default_workers() if workers is None else workers
        self.capacity = queue_size or max(2, 4 * max(1, self.workers))
        self.wait, self.nice = wait, nice
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._lock = threading.Lock()
        self._executor = None
        self.retries = 0  # submissions that found the queue full and backed off (for tests and the bench)

    def _pool(self):
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the web server is multi-threaded, and a forked child would inherit its locks.
                self._executor = cf.ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                        initializer=_init_worker, initargs=(self.nice,))
            return self._executor

    def _reset(self, broken):
        with self._lock:
            if self._executor is broken:
                self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def start(self):
        """Start the workers and load their models now rather than at the first check."""
        if self.workers:
            list(self._pool().map(abs, range(self.workers)))
        return self

    def warm(self):
        """Start the workers in the background if they are not running (a check is probably coming)."""
        if self.workers and self._executor is None:
            threading.Thread(target=self.start, daemon=True, name="face-pool-warm").start()

    def submit(self, fn, *args):
        """Queue fn(*args); a Future. Backs off and retries while the queue is full."""
        delay, waited = 0.02, 0.0
        while not self._slots.acquire(blocking=False):
            if waited >= self.wait:
                raise FaceBusy()
            self.retries += 1
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)
        if not self.workers:  # inline: in the calling thread (TRACKER_FACE_WORKERS=0, for debugging)
            future = cf.Future()
            try:
                future.set_result(fn(*args))
            except Exception as e:  # handed to the caller through the future, as from a worker
                future.set_exception(e)
            finally:
                self._slots.release()
            return future
        try:
            executor = self._pool()
            future = executor.submit(fn, *args)
        except BrokenProcessPool:
            self._reset(executor)
            try:
                future = self._pool().submit(fn, *args)
            except BaseException:
                self._slots.release()
                raise
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        return future

    def run(self, fn, *args, timeout=120):
        """fn(*args) in a worker, waiting for the answer; a worker that died is replaced and the job run again."""
        for attempt in (1, 2):
            future = self.submit(fn, *args)
            try:
                return future.result(timeout)
            except BrokenProcessPool:
                with self._lock:
                    broken = self._executor
                if broken is not None:
                    self._reset(broken)
                if attempt == 2:
                    raise

    def shutdown(self):
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


_pools = {}
_pools_lock = threading.Lock()


def pool_for(config):
    """The process's pool for this configuration: shared by every app in the process (tests make many)."""
    key = (config["TRACKER_FACE_WORKERS"], config["TRACKER_FACE_QUEUE"], config["TRACKER_FACE_WAIT"])
    with _pools_lock:
        if key not in _pools:
            _pools[key] = FacePool(*key)
        return _pools[key]
