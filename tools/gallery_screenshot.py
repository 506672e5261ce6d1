"""A screenshot of the demo gallery (`scratchnet demo` writes DIR/index.html) for the README: the page drawn by headless
chromium (`make browser`), the blank bottom cropped, scaled to --width and saved as a 256-colour PNG (the page is
mostly flat colour and text, so a palette keeps it small).

    python tools/gallery_screenshot.py out/demo/index.html docs/images/gallery_screenshot.png
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("page", help="the gallery's index.html")
    p.add_argument("out", help="the PNG to write")
    p.add_argument("--width", type=int, default=700, help="width of the saved picture in pixels (default 700)")
    p.add_argument("--window", default="1150,9000", help="browser window WIDTH,HEIGHT (taller than the page)")
    a = p.parse_args(argv)
    browser = next((shutil.which(n) for n in ("chromium", "chromium-headless-shell", "google-chrome")
                    if shutil.which(n)), None)
    if browser is None:
        sys.exit("gallery_screenshot: no chromium found (make browser)")
    if not os.path.isfile(a.page):
        sys.exit(f"gallery_screenshot: {a.page}: no such page (run scratchnet demo first)")
    with tempfile.TemporaryDirectory() as tmp:
        shot = os.path.join(tmp, "shot.png")
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={os.path.join(tmp, 'profile')}", "--virtual-time-budget=5000",
                        f"--window-size={a.window}", f"--screenshot={shot}", "file://" + os.path.abspath(a.page)],
                       capture_output=True, timeout=300, check=False)
        if not os.path.exists(shot):
            sys.exit(f"gallery_screenshot: {browser} wrote no screenshot")
        im = Image.open(shot).convert("RGB")
    # the window is taller than the page: cut at the last row with anything darker than near-white on it
    ink = im.convert("L").point(lambda v: 255 if v < 250 else 0).getbbox()
    im = im.crop((0, 0, im.width, min(im.height, ink[3] + 20)))
    im = im.resize((a.width, round(im.height * a.width / im.width)), Image.LANCZOS)
    im.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(a.out, optimize=True)
    print(f"{a.out}: {im.width}x{im.height}, {os.path.getsize(a.out) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
