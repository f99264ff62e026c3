"""Compile the translations: each locale/<language>/LC_MESSAGES/*.po into its .mo.

Babel's compiler, in Python, so that neither `make run`, `make test` nor the image needs
GNU gettext; `make messages` (extracting the strings) does. Fuzzy entries are left out, as
GNU msgfmt leaves them: a guess is never shown. Usage: python scripts/compile_messages.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def main() -> int:
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        mo = po.with_suffix(".mo")
        with mo.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        print(f"compiled {mo.relative_to(LOCALE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
