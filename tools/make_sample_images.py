"""Make the photos bundled in scratchnet/data/images from scikit-image's sample data (`pip install scikit-image`).

They let style transfer, texture synthesis and DeepDream run offline with no extra package. Each is resized so its
longer side is 320 px and saved as JPEG quality 90. Licences (from scikit-image's data docstrings): astronaut
(NASA, public domain), chelsea (CC0, Stefan van der Walt), coffee (CC0, Rachel Michetti), rocket (SpaceX, public
domain), immunohistochemistry (no known copyright restrictions), brick and gravel (CC0Textures, CC0).
Run: python tools/make_sample_images.py
"""
import os

from PIL import Image
from skimage import data

OUT = os.path.join(os.path.dirname(__file__), os.pardir, "scratchnet", "data", "images")
NAMES = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "brick", "gravel"]

os.makedirs(OUT, exist_ok=True)
for name in NAMES:
    img = Image.fromarray(getattr(data, name)()).convert("RGB")
    scale = 320 / max(img.size)
    img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    path = os.path.join(OUT, f"{name}.jpg")
    img.save(path, quality=90)
    print(f"{path}: {img.size[0]}x{img.size[1]}, {os.path.getsize(path) / 1024:.0f} KB")
