#!/usr/bin/env python3
"""Hash a password the way the system's libxcrypt does.

    crypthash.py PREFIX [COUNT] < password

PREFIX is a libxcrypt method prefix ("$y$", "$6$", "$5$", "$1$", "$2b$");
COUNT 0 (the default) is the method's default cost.  The salt comes from
crypt_gensalt(3) with the library's own randomness, the hash from crypt(3):
the hashes are exactly what libxcrypt makes and checks, without Python's
deprecated crypt module or an extra package such as whois (mkpasswd).
"""
import ctypes
import ctypes.util
import sys


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: crypthash.py PREFIX [COUNT] < password")
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1",
                      use_errno=True)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong,
                                  ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    count = int(sys.argv[2]) if len(sys.argv) == 3 else 0
    setting = lib.crypt_gensalt(sys.argv[1].encode(), count, None, 0)
    if not setting:
        sys.exit("crypt_gensalt failed for " + sys.argv[1])
    password = sys.stdin.buffer.read()
    hashed = lib.crypt(password, setting)
    if not hashed or hashed.startswith(b"*"):
        sys.exit("crypt failed for " + sys.argv[1])
    print(hashed.decode())


if __name__ == "__main__":
    main()
