"""Synthesised bursts of camera frames from one photo (tests and bench/faces.py).

live: a camera before a person: every frame has its own sensor noise (Gaussian) and the face moves a few pixels
against the fixed background. still: one picture, repeated, re-encoded, or moved, scaled and rotated as a whole
(with or without noise added per frame). Frames are RGB uint8 arrays; `encoded` makes JPEG bytes of them.
"""
import io

import cv2
import numpy as np
from PIL import Image


def jpeg_bytes(rgb, quality=85):
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg_round_trip(rgb, quality=85):
    return np.asarray(Image.open(io.BytesIO(jpeg_bytes(rgb, quality))).convert("RGB"))


def noisy(rgb, sigma, rng):
    return np.clip(rgb + rng.normal(0, sigma, rgb.shape), 0, 255).astype(np.uint8)


def warped(rgb, dx=0.0, dy=0.0, scale=1.0, angle=0.0):
    """The whole picture moved, scaled about its centre and rotated (degrees)."""
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    m[0, 2] += dx
    m[1, 2] += dy
    return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def face_moved(rgb, box, dx, dy):
    """The face (its box and 30 px around it, feathered) moved by (dx, dy) against the unmoved background."""
    t, r, b, l = box
    mask = np.zeros(rgb.shape[:2], np.float32)
    mask[max(0, t - 30):b + 30, max(0, l - 30):r + 30] = 1
    mask = cv2.GaussianBlur(mask, (31, 31), 0)[..., None]
    return (warped(rgb, dx, dy) * mask + rgb * (1 - mask)).astype(np.uint8)


def live_burst(rgb, box, rng, count=4, sigma=2.0, quality=85):
    """A person before a webcam: the face drifts up to 3 px, each frame with its own noise, JPEG as the page sends."""
    frames = []
    for i in range(count):
        dx, dy = (0.0, 0.0) if i == 0 else rng.uniform(-3, 3, 2)
        frame = face_moved(rgb, box, dx, dy) if i else rgb
        frames.append(jpeg_round_trip(noisy(frame, sigma, rng), quality))
    return frames


def still_bursts(rgb, rng, count=4):
    """{name: frames} of one picture that never moves by itself."""
    def moved(i, noise=0.0):
        dx, dy = rng.uniform(-6, 6, 2) * i / count
        frame = warped(rgb, dx, dy, 1 + rng.uniform(-0.04, 0.04) * i / count, rng.uniform(-2, 2) * i / count)
        return noisy(frame, noise, rng) if noise else frame
    return {
        "repeated": [jpeg_round_trip(rgb)] * count,
        "re-encoded": [jpeg_round_trip(rgb, q) for q in (95, 75, 50, 30, 20)[:count]],
        "moved": [jpeg_round_trip(moved(i)) for i in range(count)],
        "moved, re-encoded": [jpeg_round_trip(moved(i), (90, 60, 40, 25)[i % 4]) for i in range(count)],
        "noise": [jpeg_round_trip(noisy(rgb, 2.0, rng)) for _ in range(count)],
        "moved, noise": [jpeg_round_trip(moved(i, 2.0)) for i in range(count)],
    }
