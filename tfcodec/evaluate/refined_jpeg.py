"""`jpeg+refine`: JPEG files as the `jpeg` codec writes them, decoded by the JPEG refiner.

The encoder is the plain `jpeg` codec (libjpeg-turbo, 4:2:0, optimised Huffman),
so the rate is the JPEG file's own size, unchanged: nothing rides along. The
decoder is `tfcodec.codecs.jpeg_refine.JpegRefiner`, which reads the tables
from the file like any receiver would. `jpeg+refine` uses the shipped refiner
at its best step count; `jpeg+refine:MODEL` a refiner by name, weights path or
export folder, and `jpeg+refine@K` (after either) fixes K steps.
"""

from tfcodec.evaluate.classical import get_classical

PREFIX = "jpeg+refine"


def parse(spec):
    """'jpeg+refine[:MODEL][@K]' -> (model, K or None); ValueError for another spec."""
    if not spec.startswith(PREFIX):
        raise ValueError(f"not a {PREFIX} codec: {spec}")
    rest = spec[len(PREFIX):]
    steps = None
    if "@" in rest:
        rest, _, count = rest.rpartition("@")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{spec}: write the step count as {PREFIX}[:MODEL]@K, K >= 1")
        steps = int(count)
    if rest and not rest.startswith(":"):
        raise ValueError(f"{spec}: write {PREFIX}, {PREFIX}:MODEL or {PREFIX}@K")
    return rest[1:] or "jpeg-refine", steps


class RefinedJpegCodec:
    """The evaluation interface (`name`, `rate_settings`, `compress`, `decompress`, `identity`)."""

    def __init__(self, refiner, iterations=None, label=PREFIX):
        self.jpeg = get_classical("jpeg")
        self.refiner = refiner
        self.iterations = refiner.steps(iterations)
        self.name = label
        self.rate_settings = list(self.jpeg.rate_settings)
        self.describe = (f"{self.jpeg.describe}, decoded by the JPEG refiner {refiner.name} "
                         f"({self.iterations} steps)")

    @property
    def identity(self):
        return f"{self.jpeg.identity}; refiner {self.refiner.identity}; steps {self.iterations}"

    def compress(self, rgb, setting):
        return self.jpeg.compress(rgb, setting)

    def decompress(self, data):
        return self.refiner.enhance(data, self.iterations)
