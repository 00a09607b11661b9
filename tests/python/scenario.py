"""A scripted Python-kazoo session, printed one observation per line.

Run against a real ZooKeeper and against kazoo-server by
tests/differential_python.rs; the two transcripts must be equal. Only
what does not depend on the server's history is printed (no zxids, times
or session ids).
Usage: scenario.py HOST:PORT CHROOT
"""
import sys
import threading

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.security import make_digest_acl

hosts, chroot = sys.argv[1], sys.argv[2]
out = []


def note(what, value):
    out.append(f"{what}: {value}")


def stat(s):
    return (f"version={s.version} cversion={s.cversion} aversion={s.aversion} "
            f"children={s.numChildren} len={s.dataLength} "
            f"ephemeral={s.ephemeralOwner != 0}")


def attempt(what, f):
    try:
        note(what, f())
    except KazooException as e:
        note(what, type(e).__name__)


root = KazooClient(hosts=hosts)
root.start(timeout=15)
root.ensure_path(chroot)
root.stop()

zk = KazooClient(hosts=hosts + chroot)
zk.start(timeout=15)
other = KazooClient(hosts=hosts + chroot)
other.start(timeout=15)

# CRUD and stats
attempt("create", lambda: zk.create("/a", b"one"))
attempt("create again", lambda: zk.create("/a", b"x"))
attempt("create no parent", lambda: zk.create("/none/b"))
attempt("create makepath", lambda: zk.create("/p/q/r", b"deep", makepath=True))
attempt("get", lambda: (lambda d: (d[0], stat(d[1])))(zk.get("/a")))
attempt("set", lambda: stat(zk.set("/a", b"two")))
attempt("set bad version", lambda: zk.set("/a", b"x", version=7))
attempt("set version", lambda: stat(zk.set("/a", b"three", version=1)))
attempt("exists missing", lambda: zk.exists("/missing"))
attempt("children", lambda: sorted(zk.get_children("/")))
attempt("delete not empty", lambda: zk.delete("/p"))
attempt("delete recursive", lambda: zk.delete("/p", recursive=True))
attempt("delete missing", lambda: zk.delete("/p"))
attempt("delete bad version", lambda: zk.delete("/a", version=9))

# sequential and ephemeral nodes
zk.create("/seq")
for i in range(3):
    attempt(f"sequential {i}", lambda: zk.create("/seq/n-", sequence=True))
zk.delete("/seq/n-0000000001")
attempt("sequential after delete", lambda: zk.create("/seq/n-", sequence=True))
attempt("seq parent", lambda: stat(zk.exists("/seq")))
attempt("ephemeral", lambda: zk.create("/e", ephemeral=True))
attempt("ephemeral stat", lambda: stat(zk.exists("/e")))
attempt("child of ephemeral", lambda: zk.create("/e/child"))
attempt("ephemeral sequential", lambda: zk.create("/es-", ephemeral=True, sequence=True))

# watches: one-shot data, exists, children
events = []
fired = threading.Event()


def watcher(event):
    events.append(f"{event.type} {event.path}")
    if len(events) == 3:
        fired.set()


zk.get("/a", watch=watcher)
zk.exists("/later", watch=watcher)
zk.get_children("/seq", watch=watcher)
other.set("/a", b"changed")
other.create("/later")
other.create("/seq/m")
fired.wait(10)
note("events", sorted(events))

# transactions
def results(rs):
    def one(r):
        if isinstance(r, Exception):
            return type(r).__name__
        if hasattr(r, "version"):
            return stat(r)
        return str(r)
    return [one(r) for r in rs]


t = zk.transaction()
t.check("/a", 3)
t.set_data("/a", b"tx")
t.create("/tx-child", b"c")
t.delete("/later")
attempt("transaction", lambda: results(t.commit()))
t = zk.transaction()
t.create("/never")
t.check("/a", 99)
attempt("failed transaction", lambda: results(t.commit()))
attempt("nothing applied", lambda: zk.exists("/never"))

# ACLs and digest auth
acl = make_digest_acl("ann", "secret", all=True)
attempt("create with acl", lambda: zk.create("/secret", b"s", acl=[acl]))
attempt("read without auth", lambda: other.get("/secret"))
other.add_auth("digest", "ann:secret")
attempt("read with auth", lambda: other.get("/secret")[0])
attempt("acl", lambda: [(a.perms, a.id.scheme) for a in zk.get_acls("/secret")[0]])

zk.stop()
zk.close()
other.stop()
other.close()
print("\n".join(out))
