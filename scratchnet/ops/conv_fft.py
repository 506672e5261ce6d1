"""Stride-1 convolution by the convolution theorem, for small maps with large kernels (a DCGAN's 5×5 layer on 7×7):
one route of ops/conv.py (`choose_route`). Its readable twin is im2col (ops/conv_reference.py).

Along one axis (2-D is the same along both), a conv with padding p is a circular correlation over L points:

    y[m] = Σ_i x[m + i − p] w[i]  =  z[(m − p) mod L],   z[j] = Σ_i x̃[(j + i) mod L] w[i]   (x̃ = x, zero to L)

exactly when nothing wraps onto real data, which holds for L >= H + p and L >= OH + k − 1 − p. With the DFT
X(f) = Σ_t x[t] e^(−2πi f t / L), correlation becomes a product per frequency f, and channels a matrix product:

    forward   Z[f] = conj(W[f]) (O×C) @ X[f] (C×n)          y = real inverse DFT of Z at the output's places
    dx        DX[f] = W[f]ᵀ (C×O) @ GZ[f] (O×n)             GZ = DFT of gy placed where y was read from z
    dW        DW[f] = conj(GZ[f]) (O×n) @ X[f]ᵀ (n×C)       dW = the first kh×kw points of its inverse DFT

One complex multiply-add per (o, c, sample, frequency) replaces kh·kw·OH·OW real ones: a 5×5 kernel on a 7×7 map
needs L = 9, so 9 × 5 half-spectrum frequencies × 4 real MACs = 180 instead of 1,225 (6.8x fewer). The DFTs are
small dense matrices applied by GEMM (NumPy's FFT costs ~1 µs per 9×9 transform, more than the products here), and
they read and write only the real data's places, so no zero padding is ever stored.
"""
import math

from .. import backend
from . import conv_kernels


def fft_length(h, k, oh, p):
    """The circle L (along one axis) on which the padded correlation has no wrap-around (see the module docstring)."""
    return max(h + p, oh + k - 1 - p, k, oh)


def applies(geom):
    """Whether the FFT route can compute this conv at all: 2-D, stride 1, no dilation, one group."""
    return geom.ndim == 2 and geom.stride == (1, 1) and geom.dilation == (1, 1) and geom.groups == 1


def worth_it(geom):
    """Whether the FFT route pays: a conv it applies to whose per-pixel work it cuts at least FFT_MIN_CUT times, on
    maps small enough that its dense DFT matrices stay cheap, with enough samples and channels that transforming the
    weights and the maps is a small part of the work (the measurements: benchmarks/README.md)."""
    if not applies(geom):
        return False
    lh, lw = _lengths(geom)
    if lh * lw > FFT_MAX_POINTS or geom.n < FFT_MIN_BATCH or min(geom.c, geom.o) < FFT_MIN_CHANNELS:
        return False
    return math.prod(geom.k) * math.prod(geom.out) >= FFT_MIN_CUT * 4 * lh * (lw // 2 + 1)


# The bars worth_it sets (tests run every conv the FFT applies to through it with conv.force_route("fft"))
FFT_MIN_CUT = 5
FFT_MAX_POINTS = 20 * 20
FFT_MIN_BATCH = 8
FFT_MIN_CHANNELS = 32

_matrices = {}


def _dft_matrix(like, places, length, half, inverse):
    """(F, T) with F[f, t] = e^(∓2πi f·places[t] / L) for f over the frequencies kept (L//2+1 when `half`), complex
    of like's precision on like's device; the inverse carries 1/L and, on a half spectrum, the weight 2 of each
    frequency that stands for two (f and L − f)."""
    dev, single = backend.device_of(like), like.dtype.char in "efF"    # float16/32 or complex64: single precision
    key = (str(dev), tuple(places), length, half, inverse, single)
    if key not in _matrices:
        np = backend.numpy
        f = np.arange(length // 2 + 1 if half else length)[:, None]
        m = np.exp((1j if inverse else -1j) * (2 * math.pi / length) * ((f * np.asarray(places)[None, :]) % length))
        if inverse:
            m /= length
            if half:
                m[1:(length + 1) // 2] *= 2
        _matrices[key] = backend.to_device(m.astype(np.complex64 if single else np.complex128), dev)
    return _matrices[key]


def dft(a, places_h, places_w, lh, lw):
    """Spectrum (Lh, Lw//2+1, K, J) of real data a (J, K, H, W) whose H × W values sit at rows places_h and columns
    places_w of an Lh × Lw circle (zeros elsewhere). The K channels are independent: threads take a share each."""
    xp = backend.get_array_module(a)
    j, k, h, w = a.shape
    fw = _dft_matrix(a, places_w, lw, True, False)                     # (Bw, W)
    fh = _dft_matrix(a, places_h, lh, False, False)                    # (Lh, H)
    out = xp.empty((lh, fw.shape[0], k, j), dtype=fw.dtype)

    def body(k0, k1):
        block = a[:, k0:k1].transpose(2, 3, 1, 0).astype(fw.dtype).reshape(h, w, -1)    # (H, W, k·J)
        s = xp.matmul(fw, block)                                       # (H, Bw, k·J): along W, one GEMM per row
        out[:, :, k0:k1] = (fh @ s.reshape(h, -1)).reshape(lh, fw.shape[0], k1 - k0, j)
    backend.over_batch(xp, k, body, _min_share(h * w * j))
    return out


def idft(s, places_h, places_w, lh, lw, dtype):
    """Real data (J, K, H', W') read at rows places_h and columns places_w of the inverse DFT of a half spectrum
    s (Lh, Lw//2+1, K, J)."""
    xp = backend.get_array_module(s)
    _, bw, k, j = s.shape
    hh, ww = len(places_h), len(places_w)
    gh = _dft_matrix(s, places_h, lh, False, True).T                   # (H', Lh)
    gw = _dft_matrix(s, places_w, lw, True, True).T                    # (W', Bw)
    out = xp.empty((j, k, hh, ww), dtype=dtype)

    def body(k0, k1):
        t = (gh @ s[:, :, k0:k1].reshape(lh, -1)).reshape(hh, bw, -1)
        out[:, k0:k1] = xp.matmul(gw, t).real.reshape(hh, ww, k1 - k0, j).transpose(3, 2, 0, 1)
    backend.over_batch(xp, k, body, _min_share(hh * ww * j))
    return out


def _min_share(per_channel):
    """Channels per thread below which splitting a transform costs more than it saves (~64 K values a share)."""
    return max(1, 2**16 // max(per_channel, 1))


def _per_frequency(a, b):
    """a[f] @ b[f] for every frequency f, the frequencies split over threads (BLAS itself runs on one)."""
    xp = backend.get_array_module(a)
    out = xp.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype)
    backend.over_batch(xp, a.shape[0], lambda f0, f1: xp.matmul(a[f0:f1], b[f0:f1], out=out[f0:f1]), 1)
    return out


def _lengths(geom):
    return tuple(fft_length(h, k, o, p) for h, k, o, p in zip(geom.size, geom.k, geom.out, geom.padding))


def _sizes(geom):
    """The circle's lengths, and where the data, the kernel and the output sit on it (rows, columns)."""
    (h, w), (kh, kw), (oh, ow), (ph, pw) = geom.size, geom.k, geom.out, geom.padding
    lh, lw = _lengths(geom)
    data = (range(h), range(w))
    kernel = (range(kh), range(kw))
    out = ([(m - ph) % lh for m in range(oh)], [(m - pw) % lw for m in range(ow)])
    return lh, lw, data, kernel, out


def _flat(s):
    """(Lh, Bw, K, J) -> (F, K, J): one matrix per frequency."""
    return s.reshape((-1,) + s.shape[2:])


def _unflat(s, lh):
    return s.reshape((lh, -1) + s.shape[1:])


def _chunks(n, lh, lw, channels, itemsize, limit):
    """Sample ranges whose spectra (input and output channels, complex) fit in `limit` bytes (default: the im2col
    limit, conv_kernels.set_im2col_limit)."""
    limit = conv_kernels.IM2COL_LIMIT_BYTES if limit is None else limit
    return backend.chunks(0, n, lh * (lw // 2 + 1) * channels * 2 * itemsize * 2, limit)


def forward(x, w, geom, bias=None, limit=None):
    """y = conv(x, W) + b (stride 1): Z[f] = conj(W[f]) @ X[f], read back at the output's places."""
    lh, lw, data, kernel, out = _sizes(geom)
    wf = _flat(dft(w, *kernel, lh, lw)).conj().transpose(0, 2, 1)      # (F, O, C)
    y = backend.get_array_module(x).empty(geom.y_shape, dtype=x.dtype)
    for n0, n1 in _chunks(geom.n, lh, lw, geom.c + geom.o, x.itemsize, limit):
        z = _per_frequency(wf, _flat(dft(x[n0:n1], *data, lh, lw)))    # (F, O, n)
        y[n0:n1] = idft(_unflat(z, lh), *out, lh, lw, x.dtype.name)
    if bias is not None:
        y += bias[:, None, None]
    return y


def backward_data(gy, w, geom, limit=None):
    """dx = convT(gy, W): DX[f] = W[f]ᵀ @ GZ[f], read back at the input's places."""
    lh, lw, data, kernel, out = _sizes(geom)
    wf = _flat(dft(w, *kernel, lh, lw))                                 # (F, C, O)
    dx = backend.get_array_module(gy).empty(geom.x_shape, dtype=gy.dtype)
    for n0, n1 in _chunks(geom.n, lh, lw, geom.c + geom.o, gy.itemsize, limit):
        s = _per_frequency(wf, _flat(dft(gy[n0:n1], *out, lh, lw)))     # (F, C, n)
        dx[n0:n1] = idft(_unflat(s, lh), *data, lh, lw, gy.dtype.name)
    return dx


def backward_filter(x, gy, geom, limit=None):
    """dW = gradW(x, gy): DW[f]ᵀ = Σ_n X[f] @ conj(GZ[f])ᵀ (summed over sample chunks in a fixed order), read back
    at the kernel's places."""
    lh, lw, data, kernel, out = _sizes(geom)
    total = None
    for n0, n1 in _chunks(geom.n, lh, lw, geom.c + geom.o, x.itemsize, limit):
        gz = _flat(dft(gy[n0:n1], *out, lh, lw)).conj()                 # (F, O, n)
        dw = _per_frequency(_flat(dft(x[n0:n1], *data, lh, lw)), gz.transpose(0, 2, 1))     # (F, C, O)
        total = dw if total is None else total.__iadd__(dw)
    return idft(_unflat(total, lh), *kernel, lh, lw, x.dtype.name)
