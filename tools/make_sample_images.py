"""Make the photos bundled in scratchnet/data/images from scikit-image's and matplotlib's sample data
(`pip install scikit-image matplotlib`).

They let style transfer, texture synthesis, DeepDream and image restoration run offline with no extra package. Each
is resized (Lanczos) so its longer side is LONG[name] px (320 for the first seven; the restoration photos, added
later, 384 or their own size when smaller) and saved as JPEG quality 90. Licences (from the packages' data
docstrings and READMEs): astronaut (NASA, public domain), chelsea (CC0, Stefan van der Walt), coffee (CC0, Rachel
Michetti), rocket (SpaceX, public domain), immunohistochemistry (no known copyright restrictions), brick and gravel
(CC0Textures, CC0), camera (CC0, Lav Varshney), coins (Brooklyn Museum, no known copyright restrictions),
hubble_deep_field (NASA, public domain), retina (CC0, Mikael Häggström), grace_hopper (U.S. Navy photograph, public
domain; matplotlib's sample data).
Run: python tools/make_sample_images.py [NAME ...]   (no names: all of them)
"""
import os
import sys

from PIL import Image
from skimage import data

OUT = os.path.join(os.path.dirname(__file__), os.pardir, "scratchnet", "data", "images")
LONG = {"astronaut": 320, "chelsea": 320, "coffee": 320, "rocket": 320, "immunohistochemistry": 320, "brick": 320,
        "gravel": 320, "camera": 384, "coins": 384, "hubble_deep_field": 384, "retina": 384, "grace_hopper": 384}


def source(name):
    if name == "grace_hopper":
        import matplotlib.cbook
        return Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg"))
    return Image.fromarray(getattr(data, name)())


os.makedirs(OUT, exist_ok=True)
for name in sys.argv[1:] or list(LONG):
    img = source(name).convert("RGB")
    scale = min(1.0, LONG[name] / max(img.size))
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    path = os.path.join(OUT, f"{name}.jpg")
    img.save(path, quality=90)
    print(f"{path}: {img.size[0]}x{img.size[1]}, {os.path.getsize(path) / 1024:.0f} KB")
