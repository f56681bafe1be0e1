"""Where a library came from: its Debian package and version, its SPDX license id.

A file installed by a Debian package gets the package's version (`dpkg -S`,
`dpkg-query`) and the license of the ``Files: *`` stanza of
``/usr/share/doc/<package>/copyright`` (Debian short names mapped to SPDX ids). A
project directory gets the license its LICENSE/COPYING file states, when recognisable.
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
    (r"Apache License,?\s+Version 2\.0", "Apache-2.0"),
    (r"Mozilla Public License,?\s+(?:version|v\.?)\s*2\.0", "MPL-2.0"),
    (r"CeCILL-B", "CECILL-B"),
    (r"CeCILL-C", "CECILL-C"),
    (r"CeCILL", "CECILL-2.1"),
    (r"Permission is hereby granted, free of charge", "MIT"),
    (r"Redistribution and use in source and binary forms.*neither the name", "BSD-3-Clause"),
    (r"Redistribution and use in source and binary forms", "BSD-2-Clause"),
]


def debian_to_spdx(name: str) -> str:
    key = name.strip().lower()
    if m := _GNU.match(key):
        family = m[1].upper()
        version = m[2] if "." in m[2] else m[2] + ".0"
        return f"{family}-{version}-{'or-later' if m[3] else 'only'}"
    return _DEBIAN_TO_SPDX.get(key, f"LicenseRef-{name.strip()}" if name.strip() else "")


def license_from_debian_copyright(text: str) -> str:
    """The SPDX id of the ``Files: *`` stanza (the package's main license)."""
    for stanza in re.split(r"\n\s*\n", text):
        if re.search(r"^Files:\s*\*\s*$", stanza, re.MULTILINE):
            m = re.search(r"^License:\s*(.+)$", stanza, re.MULTILINE)
            if m:
                alternatives = re.split(r"\s+or\s+", m[1].strip(), flags=re.IGNORECASE)
                return " OR ".join(debian_to_spdx(a) for a in alternatives)
    return ""


def license_from_text(text: str) -> str:
    head = " ".join(text[:4000].split())
    bsd = text.find("Redistribution and use in source and binary forms")
    if bsd > 3000:  # a long list of copyright holders comes first (Open MPI): read the licence itself too
        head += " " + " ".join(text[bsd:bsd + 4000].split())
    for pattern, spdx in _LICENSE_TEXTS:
        if re.search(pattern, head, re.IGNORECASE | re.DOTALL):
            return spdx
    return ""


@functools.lru_cache(maxsize=256)
def debian_package(path: str) -> tuple[str, str]:
    """(package, version) that installed `path`, or ("", "") when none did."""
    try:
        out = children.run(["dpkg", "-S", path], capture_output=True, text=True, timeout=30, check=False)
        if out.returncode != 0:
            return "", ""
        package = out.stdout.split(":", 1)[0].strip()
        version = children.run(["dpkg-query", "-W", "-f", "${Version}", package],
                               capture_output=True, text=True, timeout=30, check=False).stdout.strip()
        return package, version
    except (OSError, subprocess.TimeoutExpired):
        return "", ""


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
