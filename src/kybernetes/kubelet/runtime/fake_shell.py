"""A tiny shell for the fake runtime: what ``kubectl exec`` and ``kubectl cp`` need, without a process.

Simulated containers run nothing, yet exec, attach and cp must be testable end to end. So the
fake runtime interprets a handful of commands over an in-memory file system of the container:

    echo [-n] ARGS...        cat [FILE...] (no FILE: stdin)     hostname      env
    true  false  exit N      sleep S                            ls [PATH]     mkdir [-p] DIR
    test -d|-e|-f PATH       tar cf - PATH / tar xf - [-C DIR]  (kubectl cp's two commands)
    sh -c SCRIPT             sh (reads commands from stdin, one per line)

A script is lines of commands joined by ``;`` or ``&&``; ``>&2`` sends a command's output to
stderr and ``> FILE`` into the file system. An unknown command fails as a shell says so, with
exit code 127. Everything else real shells do is out of scope on purpose.
"""

from __future__ import annotations

import io
import posixpath
import shlex
import tarfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

NOT_FOUND = 127


class ShellExit(Exception):
    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


@dataclass
class FileSystem:
    """The container's files: absolute path -> content, plus the directories."""

    files: dict[str, bytes] = field(default_factory=dict)
    dirs: set[str] = field(default_factory=lambda: {"/", "/tmp", "/etc", "/bin", "/root", "/var"})

    def mkdir(self, path: str) -> None:
        while path not in self.dirs:
            self.dirs.add(path)
            path = posixpath.dirname(path)

    def write(self, path: str, data: bytes) -> None:
        self.mkdir(posixpath.dirname(path))
        self.files[path] = data

    def under(self, root: str) -> list[str]:
        prefix = root.rstrip("/") + "/"
        return sorted(p for p in self.files if p == root or p.startswith(prefix))


@dataclass
class ShellIO:
    read: Callable[[], Awaitable[bytes]]  # the next stdin chunk; b"" at end of input
    out: Callable[[bytes], Awaitable[None]]
    err: Callable[[bytes], Awaitable[None]]


class FakeShell:
    def __init__(self, *, hostname: str, env: dict[str, str], fs: FileSystem,
                 sleep: Callable[[float], Awaitable[None]], cwd: str = "/"):
        self.hostname = hostname
        self.env = env
        self.fs = fs
        self.sleep = sleep
        self.cwd = cwd

    def _path(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, path))

    async def run(self, argv: list[str], io_: ShellIO) -> int:
        """Run one command; its exit code."""
        try:
            return await self._command(argv, io_)
        except ShellExit as e:
            return e.code

    async def _read_all(self, io_: ShellIO) -> bytes:
        chunks = []
        while chunk := await io_.read():
            chunks.append(chunk)
        return b"".join(chunks)

    async def _command(self, argv: list[str], io_: ShellIO) -> int:
        if not argv:
            return 0
        name, args = posixpath.basename(argv[0]), argv[1:]
        handler = getattr(self, f"_cmd_{name}", None)
        if handler is None:
            await io_.err(f"sh: {argv[0]}: not found\n".encode())
            return NOT_FOUND
        return await handler(args, io_)

    # -- the commands ---------------------------------------------------------------------------

    async def _cmd_echo(self, args: list[str], io_: ShellIO) -> int:
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        await io_.out((" ".join(args) + ("\n" if newline else "")).encode())
        return 0

    async def _cmd_cat(self, args: list[str], io_: ShellIO) -> int:
        if not args or args == ["-"]:
            while chunk := await io_.read():
                await io_.out(chunk)
            return 0
        code = 0
        for arg in args:
            data = self.fs.files.get(self._path(arg))
            if data is None:
                await io_.err(f"cat: can't open '{arg}': No such file or directory\n".encode())
                code = 1
            else:
                await io_.out(data)
        return code

    async def _cmd_hostname(self, args: list[str], io_: ShellIO) -> int:
        await io_.out(f"{self.hostname}\n".encode())
        return 0

    async def _cmd_env(self, args: list[str], io_: ShellIO) -> int:
        await io_.out("".join(f"{k}={v}\n" for k, v in self.env.items()).encode())
        return 0

    async def _cmd_true(self, args: list[str], io_: ShellIO) -> int:
        return 0

    async def _cmd_false(self, args: list[str], io_: ShellIO) -> int:
        return 1

    async def _cmd_exit(self, args: list[str], io_: ShellIO) -> int:
        try:
            code = int(args[0]) if args else 0
        except ValueError:
            await io_.err(f"sh: exit: Illegal number: {args[0]}\n".encode())
            code = 2
        raise ShellExit(code & 0xFF)

    async def _cmd_sleep(self, args: list[str], io_: ShellIO) -> int:
        try:
            seconds = float(args[0]) if args else 0.0
        except ValueError:
            await io_.err(f"sleep: invalid number '{args[0]}'\n".encode())
            return 1
        await self.sleep(seconds)
        return 0

    async def _cmd_ls(self, args: list[str], io_: ShellIO) -> int:
        path = self._path(args[-1] if args else ".")
        if path in self.fs.files:
            await io_.out(f"{args[-1]}\n".encode())
            return 0
        if path not in self.fs.dirs:
            await io_.err(f"ls: {path}: No such file or directory\n".encode())
            return 1
        names = {p[len(path.rstrip("/")) + 1:].split("/")[0] for p in [*self.fs.files, *self.fs.dirs]
                 if p.startswith(path.rstrip("/") + "/")}
        await io_.out("".join(f"{n}\n" for n in sorted(names)).encode())
        return 0

    async def _cmd_mkdir(self, args: list[str], io_: ShellIO) -> int:
        for arg in args:
            if not arg.startswith("-"):
                self.fs.mkdir(self._path(arg))
        return 0

    async def _cmd_test(self, args: list[str], io_: ShellIO) -> int:
        if len(args) != 2:
            return 2
        flag, path = args[0], self._path(args[1])
        found = {"-d": path in self.fs.dirs, "-f": path in self.fs.files,
                 "-e": path in self.fs.dirs or path in self.fs.files}.get(flag)
        return 2 if found is None else (0 if found else 1)

    async def _cmd_tar(self, args: list[str], io_: ShellIO) -> int:
        flags = args[0].lstrip("-") if args else ""
        rest = args[1:]
        directory = self.cwd
        if "-C" in rest:
            i = rest.index("-C")
            directory = self._path(rest[i + 1]) if i + 1 < len(rest) else directory
            rest = rest[:i] + rest[i + 2:]
        if "f" in flags and rest and rest[0] == "-":
            rest = rest[1:]
        if "c" in flags:
            return await self._tar_create(rest, io_)
        if "x" in flags:
            return await self._tar_extract(directory, io_)
        await io_.err(b"tar: need c or x\n")
        return 1

    async def _tar_create(self, paths: list[str], io_: ShellIO) -> int:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
            for arg in paths:
                root = self._path(arg)
                found = self.fs.under(root)
                if not found and root not in self.fs.dirs:
                    await io_.err(f"tar: {arg}: No such file or directory\n".encode())
                    return 1
                for path in found:
                    info = tarfile.TarInfo(path.lstrip("/"))
                    info.size, info.mode = len(self.fs.files[path]), 0o644
                    archive.addfile(info, io.BytesIO(self.fs.files[path]))
        await io_.out(buffer.getvalue())
        return 0

    async def _tar_extract(self, directory: str, io_: ShellIO) -> int:
        data = await self._read_all(io_)
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
                for member in archive.getmembers():
                    target = posixpath.normpath(posixpath.join(directory, member.name))
                    if member.isdir():
                        self.fs.mkdir(target)
                    elif member.isfile():
                        extracted = archive.extractfile(member)
                        self.fs.write(target, extracted.read() if extracted else b"")
        except tarfile.TarError as e:
            await io_.err(f"tar: {e}\n".encode())
            return 1
        return 0

    async def _cmd_sh(self, args: list[str], io_: ShellIO) -> int:
        if args[:1] == ["-c"]:
            return await self.script(args[1] if len(args) > 1 else "", io_)
        pending = b""
        code = 0
        while True:  # an interactive shell: one command per line of stdin
            chunk = await io_.read()
            if not chunk:
                return await self.script(pending.decode(errors="replace"), io_) if pending.strip() else code
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                line = line.replace(b"\r", b"")
                try:
                    code = await self._line(line.decode(errors="replace"), io_)
                except ShellExit as e:
                    return e.code

    _cmd_bash = _cmd_ash = _cmd_sh

    # -- scripts --------------------------------------------------------------------------------

    async def script(self, text: str, io_: ShellIO) -> int:
        code = 0
        try:
            for line in text.splitlines():
                code = await self._line(line, io_)
        except ShellExit as e:
            return e.code
        return code

    async def _line(self, line: str, io_: ShellIO) -> int:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|>")
        lexer.whitespace_split = True
        try:
            tokens = list(lexer)
        except ValueError as e:
            await io_.err(f"sh: syntax error: {e}\n".encode())
            return 2
        code, command, skip = 0, [], False
        for token in [*tokens, ";"]:
            if token in (";", "&&", "||"):
                if command and not skip:
                    code = await self._redirected(command, io_)
                command = []
                skip = (token == "&&" and code != 0) or (token == "||" and code == 0)
            else:
                command.append(token)
        return code

    async def _redirected(self, command: list[str], io_: ShellIO) -> int:
        out = io_.out
        argv: list[str] = []
        target: str | None = None
        i = 0
        while i < len(command):
            token = command[i]
            if token == ">&" and i + 1 < len(command) and command[i + 1] == "2":
                if argv and argv[-1] == "1":
                    argv.pop()
                out, i = io_.err, i + 2
                continue
            if token in (">", ">>") and i + 1 < len(command):
                target, i = self._path(command[i + 1]), i + 2
                continue
            argv.append(token)
            i += 1
        if target is None:
            return await self._command(argv, ShellIO(io_.read, out, io_.err))
        captured: list[bytes] = []

        async def capture(data: bytes) -> None:
            captured.append(data)

        code = await self._command(argv, ShellIO(io_.read, capture, io_.err))
        self.fs.write(target, b"".join(captured))
        return code
