#!/usr/bin/env python3
"""Drive `swctr run -it` in a real pseudo-terminal for the terminal tests.

    tty-session.py interactive -- COMMAND...   prompt, stty size, resize, Ctrl-C, exit
    tty-session.py killed KILLCOMMAND -- COMMAND...   prompt, then KILLCOMMAND from outside
    tty-session.py capture -- COMMAND...   all it writes to the terminal, then its exit status

COMMAND runs with the pty's slave as its controlling terminal and stdio, as a user's shell
would start it. Prints one `key=value` line per observation; the test asserts them. Exits 1
with a `timeout=` line when an expected text does not appear within 10 s.
"""
import fcntl
import os
import pty
import select
import shlex
import struct
import subprocess
import sys
import termios
import time


class Session:
    def __init__(self, command, rows=30, cols=100):
        self.pid, self.master = pty.fork()
        if self.pid == 0:
            os.execvp(command[0], command)
        self.resize(rows, cols)
        self.seen = b""

    def resize(self, rows, cols):
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def write(self, text):
        os.write(self.master, text.encode())

    def expect(self, text, timeout=10.0, fatal=True):
        end = time.time() + timeout
        needle = text.encode()
        while needle not in self.seen:
            left = end - time.time()
            if left <= 0:
                if not fatal:
                    return False
                print("timeout=%r" % text)
                print("screen=%r" % self.seen[-400:].decode(errors="replace"))
                sys.stdout.flush()
                os.kill(self.pid, 9)
                sys.exit(1)
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    continue
                self.seen += chunk
        # consume what was matched so the next expect looks at new output
        self.seen = self.seen[self.seen.index(needle) + len(needle):]
        return True

    def value_after(self, text):
        """The rest of the output line that follows `text`."""
        self.expect(text)
        self.expect_line_end()
        return self.line

    def expect_line_end(self):
        end = time.time() + 10.0
        while b"\n" not in self.seen and time.time() < end:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    break
        self.line = self.seen.split(b"\n")[0].rstrip(b"\r").decode(errors="replace")

    def until(self, action, text, tries=50, each=0.2):
        """Repeats `action` until `text` shows up (conditions, not sleeps)."""
        for _ in range(tries):
            action()
            if self.expect(text, timeout=each, fatal=False):
                return True
        return self.expect(text, timeout=0.1)

    def drain_until_exit(self, timeout=15.0):
        end = time.time() + timeout
        while time.time() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while select.select([self.master], [], [], 0.05)[0]:
                    try:
                        chunk = os.read(self.master, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    self.seen += chunk
                return os.waitstatus_to_exitcode(status)
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:
                    pass
        print("timeout=exit")
        os.kill(self.pid, 9)
        sys.exit(1)

    def modes(self):
        attrs = termios.tcgetattr(self.master)
        return attrs[:6]


def interactive(command):
    s = Session(command)
    before = s.modes()
    s.expect("/ # ")
    s.write("echo size=$(stty size)\n")
    s.expect("size=30 100")
    print("size=30 100")
    s.resize(40, 120)
    # The new size reaches the container through SIGWINCH: ask until it has arrived.
    s.until(lambda: s.write("echo resized=$(stty size)\n"), "resized=40 120")
    print("resized=40 120")
    # A foreground process that says when it runs; the quotes keep the typed echo from matching.
    s.write("sh -c 'echo sta\"\"rted; exec sleep 100'\n")
    s.expect("started")
    s.write("\x03")
    # The shell prints a fresh prompt once its foreground job has died of the signal.
    s.expect("/ # ")
    s.write("echo stat\"\"us=$?\n")
    print("ctrl-c=%s" % s.value_after("status="))
    s.write("exit 3\n")
    print("exit=%d" % s.drain_until_exit())
    print("restored=%s" % ("yes" if s.modes() == before else "no"))


def killed(kill_command, command):
    s = Session(command)
    before = s.modes()
    s.expect("/ # ")
    raw = s.modes() != before
    print("raw-while-running=%s" % ("yes" if raw else "no"))
    subprocess.run(kill_command, check=False)
    print("exit=%d" % s.drain_until_exit())
    print("restored=%s" % ("yes" if s.modes() == before else "no"))


def capture(command):
    s = Session(command)
    status = s.drain_until_exit()
    print("output=%r" % s.seen.decode(errors="replace"))
    print("exit=%d" % status)


def main():
    args = sys.argv[1:]
    if "--" not in args:
        sys.exit(__doc__)
    split = args.index("--")
    head, command = args[:split], args[split + 1:]
    if head == ["interactive"]:
        interactive(command)
    elif head == ["capture"]:
        capture(command)
    elif len(head) == 2 and head[0] == "killed":
        killed(shlex.split(head[1]), command)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
