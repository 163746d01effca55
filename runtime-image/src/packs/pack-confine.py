"""Confines a pack before it starts, then runs it: `pack-confine.py [options] -- command [args...]`.

A pack runs as its tenant's UID, like the runtime and the tenant's other packs, so file modes
cannot keep it from the records database, the key table or another pack's directory. Landlock can:
an unprivileged process restricts itself (and every process it will start) to the file hierarchies
and TCP ports it names, and no process can lift that. Here the pack may read the system's files
and its own code, write only in its own directories, connect only to its own egress port, bind no
port, and (Landlock ABI 6) signal no process outside itself nor reach an abstract unix socket.

Python, not the runtime's Node, because Node offers no way to make these system calls; only the
standard library is used (ctypes), and python3 is part of the runtime's base image.
Exits 126 without starting the pack when --require is given and the kernel offers no Landlock.
"""

import argparse
import ctypes
import errno
import os
import struct
import sys

# System call numbers: the same on x86_64 and arm64 (they were added after the tables unified).
SYS_CREATE_RULESET, SYS_ADD_RULE, SYS_RESTRICT_SELF = 444, 445, 446
CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH, RULE_NET_PORT = 1, 2
PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights, by the ABI version that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
ABI1_FS = (1 << 13) - 1  # execute .. make_sym
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1
# Rights that apply to a file itself (a rule on a file may hold only these).
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def fail(message, code=126):
    sys.stderr.write("pack-confine: " + message + "\n")
    sys.exit(code)


def syscall(number, *args):
    result = libc.syscall(number, *args)
    if result < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return result


def abi_version():
    try:
        return syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)
    except OSError as error:
        if error.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return 0
        raise


def handled_fs(abi):
    rights = ABI1_FS
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def add_path(ruleset, path, rights, handled):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # a system directory this image does not have (say /lib64)
    try:
        allowed = rights & handled
        if not os.path.isdir(path):
            allowed &= FILE_RIGHTS
        attr = struct.pack("=Qi", allowed, fd)  # landlock_path_beneath_attr (packed)
        syscall(SYS_ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.c_char_p(attr), 0)
    finally:
        os.close(fd)


def confine(options, abi):
    fs = handled_fs(abi)
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    # landlock_ruleset_attr grew with the ABI: pass only the fields this kernel knows.
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = syscall(SYS_CREATE_RULESET, ctypes.c_char_p(attr), ctypes.c_size_t(len(attr)), 0)
    read = EXECUTE | READ_FILE | READ_DIR
    for path in options.read:
        add_path(ruleset, path, read, fs)
    # Devices: /dev/null, /dev/urandom and the like, read and written, never created.
    add_path(ruleset, "/dev", READ_FILE | WRITE_FILE | READ_DIR | IOCTL_DEV, fs)
    for path in options.write:
        add_path(ruleset, path, fs, fs)
    if net:
        for port in options.connect_port:
            rule = struct.pack("=QQ", NET_CONNECT_TCP, port)  # landlock_net_port_attr
            syscall(SYS_ADD_RULE, ruleset, RULE_NET_PORT, ctypes.c_char_p(rule), 0)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        fail("could not set no_new_privs")
    syscall(SYS_RESTRICT_SELF, ruleset, 0)
    os.close(ruleset)


def main():
    parser = argparse.ArgumentParser(prog="pack-confine.py", description=__doc__.split("\n")[0])
    parser.add_argument("--read", action="append", default=[], help="a hierarchy the pack may read and execute")
    parser.add_argument("--write", action="append", default=[], help="a hierarchy the pack may read and change")
    parser.add_argument("--connect-port", action="append", type=int, default=[], help="a loopback TCP port it may connect to")
    parser.add_argument("--require", action="store_true", help="refuse to start the pack without Landlock")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    command = options.command[1:] if options.command[:1] == ["--"] else options.command
    if not command:
        fail("no command to run after --", 2)
    abi = abi_version()
    if abi > 0:
        confine(options, abi)
    elif options.require:
        fail("this kernel offers no Landlock: the pack is not started unconfined")
    else:
        sys.stderr.write("pack-confine: no Landlock here: the sandbox (gVisor) is the pack's only boundary\n")
    # Python's C-locale coercion (PEP 538) put LC_CTYPE into this process's environment; the pack
    # gets the environment the runtime gave it (pack-process.ts), which names no locale.
    environment = dict(os.environ)
    environment.pop("LC_CTYPE", None)
    try:
        os.execvpe(command[0], command, environment)
    except OSError as error:
        fail("cannot run %s: %s" % (command[0], error.strerror), 127)


if __name__ == "__main__":
    main()
