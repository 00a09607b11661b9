"""Python kazoo's recipes, driven line by line from a Rust test.

Usage: recipes.py HOSTS (a connect string with chroot). Reads one command
per line on stdin and answers one line on stdout:

  lock NAME PATH ID          blocking Lock.acquire() in a thread; prints
                             "acquired NAME" when it has the lock
  trylock NAME PATH ID       Lock.acquire(blocking=False): True / False
  timedlock NAME PATH ID S   Lock.acquire(timeout=S): True / timeout
  release NAME               releases a Lock or Semaphore: released
  contenders PATH            Lock(PATH).contenders() as comma-separated ids
  sem NAME PATH MAX ID       Semaphore(...).acquire(blocking=False)
  holders PATH MAX           Semaphore(...).lease_holders(), sorted
  election PATH              Election(PATH).contenders()
  quit
"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import LockTimeout

zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=15)
held = {}
lock = threading.Lock()


def say(line):
    with lock:
        print(line, flush=True)


def blocking(name, path, ident):
    item = zk.Lock(path, ident)
    held[name] = item
    item.acquire()
    say(f"acquired {name}")


for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    cmd, args = words[0], words[1:]
    try:
        if cmd == "lock":
            threading.Thread(target=blocking, args=args, daemon=True).start()
            say("started")
        elif cmd == "trylock":
            name, path, ident = args
            held[name] = zk.Lock(path, ident)
            say(str(held[name].acquire(blocking=False)))
        elif cmd == "timedlock":
            name, path, ident, secs = args
            held[name] = zk.Lock(path, ident)
            try:
                say(str(held[name].acquire(timeout=float(secs))))
            except LockTimeout:
                say("timeout")
        elif cmd == "release":
            held.pop(args[0]).release()
            say("released")
        elif cmd == "contenders":
            say(",".join(zk.Lock(args[0]).contenders()))
        elif cmd == "sem":
            name, path, max_leases, ident = args
            held[name] = zk.Semaphore(path, ident, max_leases=int(max_leases))
            say(str(held[name].acquire(blocking=False)))
        elif cmd == "holders":
            path, max_leases = args
            sem = zk.Semaphore(path, max_leases=int(max_leases))
            say(",".join(sorted(sem.lease_holders())))
        elif cmd == "election":
            say(",".join(zk.Election(args[0]).contenders()))
        elif cmd == "quit":
            break
        else:
            say(f"unknown {cmd}")
    except Exception as e:  # reported to the test, one line
        say(f"error {type(e).__name__}: {e}")

zk.stop()
zk.close()
