"""A 5x5 stride-2 transposed convolution as a stride-1 3x3 convolution to 4x the
channels followed by depth_to_space(2): an exact rewrite, numpy only.

Each output phase (row parity, column parity) of a stride-2 transposed
convolution sees a fixed subset of the kernel's taps at input offsets -1, 0, +1,
so the four phases are four 3x3 convolutions of the input, interleaved by
depth_to_space. Integer nets (`tfcodec.entropy.integer_net`) have no transposed
convolution, and LiteRT runs the sub-pixel form faster (`tfcodec.export.graphs`).

Two alignments (`tfcodec.models.transforms`): TensorFlow's 'same' (the
equivalent strided convolution padded 1 before, 2 after: output 2m takes
x[m] w[1] + x[m-1] w[3]; output 2m+1 takes x[m+1] w[0] + x[m] w[2] + x[m-1] w[4])
and the centred one of PyTorch and TFC (output o takes x[i] w[o - 2i + 2]: output
2m takes x[m+1] w[0] + x[m] w[2] + x[m-1] w[4]; output 2m+1 takes x[m+1] w[1] + x[m] w[3]).
"""

import numpy as np

# Kernel taps seen by each output phase at input offsets -1, 0, +1 (None: no tap).
PHASE_TAPS = {
    "same": {0: (3, 1, None), 1: (4, 2, 0)},
    "centered": {0: (4, 2, 0), 1: (None, 3, 1)},
}


def subpixel_kernel(kernel, bias, alignment="same"):
    """(3x3 kernel with 4x the outputs, bias) of a 5x5 stride-2 transposed convolution
    whose Keras kernel is (5, 5, out, in), for depth_to_space(2) (DCR order) after it."""
    taps = PHASE_TAPS[alignment]
    kernel = np.asarray(kernel, np.float64)
    _, _, c_out, c_in = kernel.shape
    sub = np.zeros((3, 3, c_in, 2, 2, c_out), np.float64)
    for py in (0, 1):
        for px in (0, 1):
            for ty, ky in enumerate(taps[py]):
                for tx, kx in enumerate(taps[px]):
                    if ky is not None and kx is not None:
                        sub[ty, tx, :, py, px, :] = kernel[ky, kx].T
    return sub.reshape(3, 3, c_in, 4 * c_out), np.tile(np.asarray(bias, np.float64), 4)
