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
  counter PATH N             Counter(PATH) += N, N times by one: the value
  fcounter PATH X            Counter(PATH, default=0.0) += X: the value
  qput PATH DATA PRIO        Queue(PATH).put: ok
  qget PATH                  Queue(PATH).get(): the item, or None
  lqput PATH DATA PRIO       LockingQueue(PATH).put: ok
  lqget PATH                 LockingQueue(PATH).get(5) then consume()
  bcreate PATH / bremove PATH   Barrier(PATH).create() / .remove()
  bwait PATH SECS            Barrier(PATH).wait(SECS): True / False
  join NAME PATH ID          Party(PATH, ID).join(): joined
  sjoin NAME PATH ID         ShallowParty(PATH, ID).join(): joined
  leave NAME                 the party's leave(): True / False
  members PATH / smembers PATH  sorted members of a Party / ShallowParty
  enter NAME PATH N ID       DoubleBarrier(PATH, N, ID).enter() in a thread:
                             "entered NAME" when through
  dleave NAME                its leave() in a thread: "left NAME"
  quit
"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.recipe.queue import LockingQueue, Queue
from kazoo.exceptions import LockTimeout

zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=15)
held = {}
lock = threading.Lock()


def say(line):
    with lock:
        print(line, flush=True)


def in_thread(fn, done):
    def run():
        fn()
        say(done)

    threading.Thread(target=run, daemon=True).start()


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
        elif cmd == "counter":
            path, n = args
            counter = zk.Counter(path)
            for _ in range(int(n)):
                counter += 1
            say(str(counter.value))
        elif cmd == "fcounter":
            path, x = args
            counter = zk.Counter(path, default=0.0)
            counter += float(x)
            say(repr(counter.value))
        elif cmd == "qput":
            path, data, prio = args
            Queue(zk, path).put(data.encode(), priority=int(prio))
            say("ok")
        elif cmd == "qget":
            item = Queue(zk, args[0]).get()
            say("None" if item is None else item.decode())
        elif cmd == "lqput":
            path, data, prio = args
            LockingQueue(zk, path).put(data.encode(), priority=int(prio))
            say("ok")
        elif cmd == "lqget":
            q = LockingQueue(zk, args[0])
            item = q.get(5)
            if item is None:
                say("None")
            else:
                say(item.decode() if q.consume() else "not consumed")
        elif cmd == "bcreate":
            zk.Barrier(args[0]).create()
            say("ok")
        elif cmd == "bremove":
            say(str(zk.Barrier(args[0]).remove()))
        elif cmd == "bwait":
            say(str(zk.Barrier(args[0]).wait(float(args[1]))))
        elif cmd in ("join", "sjoin"):
            name, path, ident = args
            kind = zk.Party if cmd == "join" else zk.ShallowParty
            held[name] = kind(path, ident)
            held[name].join()
            say("joined")
        elif cmd == "leave":
            say(str(held.pop(args[0]).leave()))
        elif cmd in ("members", "smembers"):
            kind = zk.Party if cmd == "members" else zk.ShallowParty
            say(",".join(sorted(kind(args[0]))))
        elif cmd == "enter":
            name, path, n, ident = args
            held[name] = zk.DoubleBarrier(path, int(n), ident)
            in_thread(held[name].enter, f"entered {name}")
            say("started")
        elif cmd == "dleave":
            name = args[0]
            in_thread(held[name].leave, f"left {name}")
            say("started")
        elif cmd == "quit":
            break
        else:
            say(f"unknown {cmd}")
    except Exception as e:  # reported to the test, one line
        say(f"error {type(e).__name__}: {e}")

zk.stop()
zk.close()
