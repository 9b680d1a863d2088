#!/usr/bin/python3
"""Checks that the man pages cannot drift from the programs: every sftpctl command (found by
walking `sftpctl --help` of every group) appears in sftpctl(8), and every configuration key
(the tables of docs/configuration.md, the one list of keys the loader's tests follow) appears
in sftpd.toml(5). Every page has a NAME section and prints options with two hyphens.

usage: man_pages_test.py SFTPCTL MAN_DIR CONFIGURATION_MD
"""
import re
import subprocess
import sys


def help_text(sftpctl, path):
    r = subprocess.run([sftpctl, *path, "--help"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        sys.exit(f"sftpctl {' '.join(path)} --help: exit {r.returncode}: {r.stderr}")
    return r.stdout


def subcommands(text):
    """The names listed under CLI11's 'Subcommands:' heading."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("Subcommands:"):
            inside = True
            continue
        if inside:
            m = re.match(r"^  ([a-z][a-z0-9-]*)\b", line)
            if m:
                out.append(m.group(1))
            elif line and not line.startswith(" "):
                inside = False
    return out


def commands(sftpctl, path=()):
    subs = subcommands(help_text(sftpctl, list(path)))
    if not subs and path:
        return [list(path)]
    found = []
    for s in subs:
        found += commands(sftpctl, (*path, s))
    return found


def man_text(page):
    """The page as plain text, roff escapes removed (hyphens are \\- in roff)."""
    with open(page, encoding="utf-8") as f:
        roff = f.read()
    text = roff.replace("\\-", "-").replace("\\[em]", "-").replace("\\f[B]", "").replace(
        "\\f[R]", "").replace("\\f[I]", "").replace("\\f[CR]", "").replace("\\f[C]", "")
    return re.sub(r"\s+", " ", text)


def config_keys(md):
    keys, section = [], None
    with open(md, encoding="utf-8") as f:
        for line in f:
            h = re.match(r"^#+ `\[([a-z0-9_.]+)\]`", line)
            if h:
                section = h.group(1)
                continue
            if line.startswith("## ") and not h:
                section = None
            row = re.match(r"^\| `([a-z0-9_]+)` \|", line)
            if row and section:
                keys.append(f"{section}.{row.group(1)}")
    return keys


def main():
    sftpctl, man_dir, config_md = sys.argv[1:4]
    failures = []

    cmds = commands(sftpctl)
    if len(cmds) < 20:
        failures.append(f"walking sftpctl --help found only {len(cmds)} commands: {cmds}")
    page = man_text(f"{man_dir}/sftpctl.8")
    for c in cmds:
        # A command appears as "group command" (a heading or a synopsis line) or, in a heading
        # naming several ("account close / reopen"), as its own name after the group's.
        joined = " ".join(c)
        alone = re.search(rf"{re.escape(c[0])} [a-z /-]*\b{re.escape(c[-1])}\b", page)
        if joined not in page and not alone:
            failures.append(f"sftpctl(8) does not mention the command 'sftpctl {joined}'")

    keys = config_keys(config_md)
    if len(keys) < 40:
        failures.append(f"docs/configuration.md lists only {len(keys)} keys")
    page = man_text(f"{man_dir}/sftpd.toml.5")
    for k in keys:
        section, name = k.rsplit(".", 1)
        if f"[{section}]" not in page or name not in page:
            failures.append(f"sftpd.toml(5) does not describe the key {k}")
    for p in ("sftpd.8", "sftpctl.8", "sftpd.toml.5", "sftpd-session.8", "sftpd-sftp.8"):
        roff = open(f"{man_dir}/{p}", encoding="utf-8").read()
        if not re.search(r"\.SH NAME\s", roff):
            failures.append(f"{p} has no NAME section")
        # "--config" must not come out as an en dash and "config" (typographic quotes and dashes
        # are off in cmake/Install.cmake): a reader copying the option would get an error.
        for m in re.finditer(r"\\\[(en|em)\]([a-z][a-z-]*)", roff):
            failures.append(f"{p} prints the option --{m.group(2)} with a typographic dash")

    for f in failures:
        print("FAIL:", f)
    print(f"checked {len(cmds)} sftpctl commands and {len(keys)} configuration keys")
    print(f"{len(cmds) + len(keys) - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
