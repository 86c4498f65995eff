"""Render a report page in headless Chromium at laptop and phone width: not blank, every image decoded, no
sideways scrolling of the page (wide tables scroll inside their box)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def assert_page_renders(page: Path, tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Chromium is not installed")
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    from PIL import Image, ImageStat

    for width in (1200, 390):  # a laptop and a phone-width screen
        subprocess.run([chromium, *flags, f"--window-size={width},3000", f"--screenshot={shot}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
        im = Image.open(shot).convert("L")
        assert ImageStat.Stat(im).stddev[0] > 5, f"screenshot at {width} px is blank"
    # every <img> decoded: ask the page itself, through the DOM dump of a script that marks broken images
    probe = tmp_path / "probe.html"
    html = page.read_text()
    script = ("<script>window.onload=()=>{const bad=[...document.images].filter(i=>!(i.complete&&i.naturalWidth>0));"
              "const wide=document.documentElement.scrollWidth>window.innerWidth+1;"
              "document.title='IMAGES '+document.images.length+' BROKEN '+bad.length+' OVERFLOW '+wide;}</script>")
    probe.write_text(html.replace("</body>", script + "</body>"))
    dom = subprocess.run([chromium, *flags, "--window-size=390,3000", "--virtual-time-budget=5000", "--dump-dom",
                          probe.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    assert "BROKEN 0" in dom and "IMAGES 0 " not in dom, dom[:300]
    assert "OVERFLOW false" in dom, "the page scrolls sideways at phone width (tables must scroll inside their box)"
