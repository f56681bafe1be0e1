"""Where a library came from: its Debian package and version, its SPDX license id.

A file installed by a Debian package gets the package's version (`dpkg -S`,
`dpkg-query`) and the license of the ``Files: *`` stanza of
``/usr/share/doc/<package>/copyright`` (Debian short names mapped to SPDX ids). A
project directory gets the license its LICENSE/COPYING file states, when recognisable.

"Or later" is read from the words, not only from a ``+``: a GNU licence is
``-or-later`` when the project's own notice (the text before the licence's title, or
a Debian ``License:`` paragraph, which holds only the notice) says "version 2.1 of the
License, or (at your option) any later version". The licence's own text is not read
for it: GNU's "How to Apply These Terms" appendix has the same words.
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from .. import children

# Debian short names (copyright-format 1.0) -> SPDX ids; "X+" means "or later".
_DEBIAN_TO_SPDX = {
    "expat": "MIT", "mit": "MIT", "bsd-2-clause": "BSD-2-Clause", "bsd-3-clause": "BSD-3-Clause",
    "apache-2.0": "Apache-2.0", "cecill-b": "CECILL-B", "cecill-c": "CECILL-C", "cecill-2.1": "CECILL-2.1",
    "cecill": "CECILL-2.1", "isc": "ISC", "mpl-2.0": "MPL-2.0", "zlib": "Zlib", "public-domain": "LicenseRef-public-domain",
}
_GNU = re.compile(r"^(a?gpl|lgpl)-(\d(?:\.\d)?)(\+)?$")

# Phrases a LICENSE file opens with -> SPDX id (first match wins; order matters).
_LICENSE_TEXTS = [
    (r"GNU LESSER GENERAL PUBLIC LICENSE\s+Version 2\.1", "LGPL-2.1-only"),
    (r"GNU LESSER GENERAL PUBLIC LICENSE\s+Version 3", "LGPL-3.0-only"),
    (r"GNU GENERAL PUBLIC LICENSE\s+Version 3", "GPL-3.0-only"),
    (r"GNU GENERAL PUBLIC LICENSE\s+Version 2", "GPL-2.0-only"),
    (r"Lesser General Public License.{0,300}?version 2\.1", "LGPL-2.1-only"),  # a notice without the text
    (r"Lesser General Public License.{0,300}?version 3", "LGPL-3.0-only"),
    (r"General Public License.{0,300}?version 3", "GPL-3.0-only"),
    (r"General Public License.{0,300}?version 2", "GPL-2.0-only"),
    (r"Apache License,?\s+Version 2\.0", "Apache-2.0"),
    (r"Mozilla Public License,?\s+(?:version|v\.?)\s*2\.0", "MPL-2.0"),
    (r"CeCILL-B", "CECILL-B"),
    (r"CeCILL-C", "CECILL-C"),
    (r"CeCILL", "CECILL-2.1"),
    (r"Permission is hereby granted, free of charge", "MIT"),
    (r"Redistribution and use in source and binary forms.*neither the name", "BSD-3-Clause"),
    (r"Redistribution and use in source and binary forms", "BSD-2-Clause"),
]


# "version 2.1 of the License, or (at your option) any later version", "v3 or later", "2.0+"
_LATER = re.compile(r"version\s*\d(?:\.\d)?\b.{0,200}?\bor\b[^.]{0,40}?\b(?:any\s+)?later(?:\s+version)?"
                    r"|\bv?\d(?:\.\d)?\s*(?:\+|or\s+(?:any\s+)?later)", re.IGNORECASE | re.DOTALL)
# where a GNU licence's own text begins: what comes before it is the project's notice
_GNU_TITLE = re.compile(r"GNU\s+(?:LESSER|LIBRARY|AFFERO)?\s*GENERAL\s+PUBLIC\s+LICENSE\s+Version\s+\d", re.IGNORECASE)


def says_or_later(notice: str) -> bool:
    """Does a licence notice grant "this version or any later version"?"""
    return bool(_LATER.search(" ".join(notice.split())))


def or_later(spdx: str) -> str:
    """A GNU "-only" id as "-or-later" (other ids unchanged)."""
    return re.sub(r"^((?:A|L)?GPL-\d\.\d)-only$", r"\1-or-later", spdx)


def debian_to_spdx(name: str) -> str:
    key = name.strip().lower()
    if m := _GNU.match(key):
        family = m[1].upper()
        version = m[2] if "." in m[2] else m[2] + ".0"
        return f"{family}-{version}-{'or-later' if m[3] else 'only'}"
    return _DEBIAN_TO_SPDX.get(key, f"LicenseRef-{name.strip()}" if name.strip() else "")


def license_from_debian_copyright(text: str) -> str:
    """The SPDX id of the ``Files: *`` stanza (the package's main license); a short name
    without ``+`` whose notice (inline, or in the standalone ``License:`` paragraph of
    that name) grants any later version is ``-or-later``."""
    stanzas = re.split(r"\n\s*\n", text)
    notices: dict[str, str] = {}
    for stanza in stanzas:
        m = re.match(r"License:\s*(.+)\n((?:[ \t].*\n?)*)", stanza.strip("\n") + "\n")
        if m and m[2].strip():
            notices.setdefault(m[1].strip(), m[2])
    for stanza in stanzas:
        if re.search(r"^Files:\s*\*\s*$", stanza, re.MULTILINE):
            m = re.search(r"^License:\s*(.+)$((?:\n[ \t].*)*)", stanza, re.MULTILINE)
            if m:
                short = m[1].strip()
                notice = m[2] if m[2].strip() else notices.get(short, "")
                alternatives = re.split(r"\s+or\s+", short, flags=re.IGNORECASE)
                ids = [debian_to_spdx(a) for a in alternatives]
                if len(ids) == 1 and says_or_later(notice):
                    ids = [or_later(ids[0])]
                return " OR ".join(ids)
    return ""


def license_from_text(text: str) -> str:
    head = " ".join(text[:4000].split())
    bsd = text.find("Redistribution and use in source and binary forms")
    if bsd > 3000:  # a long list of copyright holders comes first (Open MPI): read the licence itself too
        head += " " + " ".join(text[bsd:bsd + 4000].split())
    for pattern, spdx in _LICENSE_TEXTS:
        if re.search(pattern, head, re.IGNORECASE | re.DOTALL):
            title = _GNU_TITLE.search(text)
            notice = text[:title.start()] if title else text  # a bare notice has no title
            return or_later(spdx) if says_or_later(notice) else spdx
    return ""


@functools.lru_cache(maxsize=256)
def debian_owners(path: str) -> tuple[str, ...]:
    """The Debian packages that installed `path` (a directory may be shared: mathcomp's)."""
    try:
        out = children.run(["dpkg", "-S", path], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    for line in out.stdout.splitlines() if out.returncode == 0 else ():
        owners, _, where = line.rpartition(": ")
        if where.strip() == path and not owners.startswith("diversion"):
            return tuple(sorted(o.strip() for o in owners.split(",") if o.strip()))
    return ()


@functools.lru_cache(maxsize=256)
def package_version(package: str) -> str:
    try:
        return children.run(["dpkg-query", "-W", "-f", "${Version}", package],
                            capture_output=True, text=True, timeout=30, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


@functools.lru_cache(maxsize=256)
def package_files(package: str) -> tuple[str, ...]:
    """The paths a Debian package installed (`dpkg -L`)."""
    try:
        out = children.run(["dpkg", "-L", package], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(out.stdout.splitlines()) if out.returncode == 0 else ()


def debian_package(path: str) -> tuple[str, str]:
    """(package, version) that installed `path`, or ("", "") when none did (several: joined by ", ")."""
    owners = debian_owners(path)
    return ", ".join(owners), package_version(owners[0]) if owners else ""


def library_license(root: Path, package: str = "") -> str:
    """SPDX id for a library: its Debian copyright file, else its LICENSE/COPYING file."""
    if package:
        copyright_file = Path("/usr/share/doc", package, "copyright")
        if copyright_file.is_file():
            return license_from_debian_copyright(copyright_file.read_text(errors="replace"))
    for parent in [root, *root.parents][:3]:
        for name in ("LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING", "COPYING.md", "COPYING.LESSER"):
            f = parent / name
            if f.is_file():
                return license_from_text(f.read_text(errors="replace"))
    return ""
