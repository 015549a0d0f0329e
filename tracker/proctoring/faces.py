"""Judging face photos: pure functions of image bytes and numbers (no database, no Flask).

A frame is normalised (EXIF orientation applied, at most 640 px on its longer side, never enlarged, never
stretched). Faces are found by HOG on a copy half that size; the 128-d encoding is then computed once, on
the frame, at the box scaled back. face_recognition (dlib) loads its models on first use in each process:
in the web server that is only ever a face worker (see workers.py).
"""
import hashlib
import io
import time
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 640  # the judged frame: a webcam's 640x480, or a photo brought down to that size
DETECT_SIDE = 320  # HOG runs on this reduced copy (with one upsampling: faces from ~80 px in the frame)
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000

DARK_FACE = 40  # mean luminance (0-255) of the face box
DARK_FRAME_P90 = 50  # with no face found: the 90th percentile of the frame's luminance
FACE_CROP = 128  # the face box is measured at this size, so sharpness does not depend on distance
BLUR_FACE = 12.0  # variance of the Laplacian on the face crop; real photos 70-700, a 2.5 px blur ~10
BLUR_FRAME = 5.0  # the same on the whole frame, when no face is found
MIN_FACE_PX = 80  # enrolment: the face box's height in the frame ...
MIN_FACE_FRACTION = 0.15  # ... and as a share of the frame's shorter side
REPLAY_BITS = 10  # perceptual hashes this close (of 256 bits) are the same picture: re-encoded, not re-taken
# A burst is one still picture when, after aligning each frame on the first as a whole (translation, scale,
# rotation), less than STILL_MOTION of the frame still differs: the share of pixels where the residual,
# averaged over 9x9 px, exceeds STILL_LEVEL grey levels. Re-encoding and whole-frame warps leave ~0; a face
# moving 1-3 px against its background leaves 0.3-4 %.
STILL_LEVEL = 10.0
STILL_MOTION = 0.001
STILL_FRAMES = 6  # at most this many frames of a burst are compared (the first and those most unlike it)
STILL_CLIP = 235  # pixels this bright in either frame are left out (an edit or exposure clips them: not linear)

# Every verdict reason and enrolment problem, as the trainee reads it: what happened and what to do.
MESSAGES = {
    "unreadable": "无法识别的图片，请使用 JPEG 或 PNG 格式的照片",
    "too_large": "图片过大（最大 8 MB、4000 万像素），请压缩后重试",
    "too_dark": "光线太暗：请到明亮处或打开灯光，正对摄像头后重拍",
    "blurred": "照片模糊：请保持不动、擦拭镜头，对准面部后重拍",
    "no_face": "未检测到人脸：请正对摄像头，露出完整面部（不要遮挡、不要戴口罩）",
    "several_faces": "画面中有多张人脸：请确保镜头前只有本人",
    "face_too_small": "人脸太小：请靠近摄像头，或使用人脸更大、更清晰的正面照片",
    "other_person": "与登记的人脸不符，不是本人",
    "replayed": "与之前提交的照片相同或几乎相同：请正对摄像头，稍微改变姿势或位置后重新拍照",
    "not_enrolled": "尚未登记人脸：请先完成人脸登记",
    "deadline_missed": "未在规定时间内完成拍照核验",
    "no_blink": "未检测到眨眼：拍摄时请看着镜头自然眨眼",
    "liveness_frames": "活体检测需要连续多帧照片，请使用页面上的摄像头拍摄",
    "still_image": "未检测到摄像头的实时画面（连拍的几张照片是同一张静止的图片）：请确认使用的是电脑或手机自带的摄像头，正对镜头后重试",
    "virtual_camera": "检测到虚拟摄像头（如 OBS、ManyCam、XSplit、Snap Camera）：请关闭虚拟摄像头软件，改用电脑自带或 USB 实体摄像头、手机前置摄像头后重新拍照",
}


class ImageProblem(ValueError):
    def __init__(self, code):
        super().__init__(MESSAGES[code])
        self.code = code


def _fr():
    """face_recognition, imported on first use: its models take a second and ~100 MB to load."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources (deprecated)
        import face_recognition
    return face_recognition


def load_models():
    """Load the models now (a worker's initializer) and run them once, so the first check is not slow."""
    fr = _fr()
    fr.face_locations(np.zeros((40, 40, 3), np.uint8))
    return fr


def decode(data):
    """Image bytes -> RGB frame (uint8, at most MAX_SIDE on its longer side). Raises ImageProblem."""
    if not data:
        raise ImageProblem("unreadable")
    if len(data) > MAX_BYTES:
        raise ImageProblem("too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            if im.width * im.height > MAX_PIXELS:
                raise ImageProblem("too_large")
            # A large JPEG decodes straight to a reduced size (much faster than decoding, then shrinking).
            im.draft("RGB", (MAX_SIDE, MAX_SIDE))
            im = ImageOps.exif_transpose(im).convert("RGB")
    except ImageProblem:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageProblem("too_large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ImageProblem("unreadable") from None
    frame = np.asarray(im)
    return fit(frame, MAX_SIDE)


def fit(frame, side):
    """Scale down (never up, never stretched) so that the longer side is at most `side`."""
    h, w = frame.shape[:2]
    scale = side / max(h, w)
    if scale >= 1:
        return np.ascontiguousarray(frame)
    return cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def pad_to(frame, width=640, height=480):
    """Fit a picture inside width x height and pad it with black: a camera frame from a photo (bench, tests)."""
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    inner = cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - inner.shape[0]) // 2, (width - inner.shape[1]) // 2
    out[y:y + inner.shape[0], x:x + inner.shape[1]] = inner
    return out


def gray(frame):
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def sharpness(gray_img):
    """Variance of the Laplacian: low when the picture is blurred."""
    return float(cv2.Laplacian(gray_img, cv2.CV_64F).var())


def perceptual_hash(gray_img):
    """256-bit DCT hash (hex): the 16x16 lowest frequencies of a 64x64 copy against their median.

    Re-encoding, resizing or a brightness change moves it by a few bits; a head that moved by a few pixels
    moves it by more than REPLAY_BITS.
    """
    small = cv2.resize(gray_img, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:16, :16].flatten()
    return np.packbits(low > np.median(low)).tobytes().hex()


def hash_distance(a, b):
    """Hamming distance between two perceptual hashes (hex of equal length)."""
    x = np.frombuffer(bytes.fromhex(a), np.uint8) ^ np.frombuffer(bytes.fromhex(b), np.uint8)
    return int(np.unpackbits(x).sum())


def detect(frame, upsample=1):
    """Face boxes (top, right, bottom, left) in frame coordinates, largest first, found on a reduced copy."""
    h, w = frame.shape[:2]
    small = fit(frame, DETECT_SIDE)
    k = w / small.shape[1]
    boxes = []
    for t, r, b, l in _fr().face_locations(small, number_of_times_to_upsample=upsample, model="hog"):
        boxes.append((max(0, round(t * k)), min(w, round(r * k)), min(h, round(b * k)), max(0, round(l * k))))
    return sorted(boxes, key=lambda x: -(x[2] - x[0]) * (x[1] - x[3]))


def encode(frame, box):
    """The 128-d encoding of the face at `box`: computed once, on the full frame."""
    return _fr().face_encodings(frame, known_face_locations=[box], num_jitters=1, model="small")[0]


def face_crop(gray_img, box):
    t, r, b, l = box
    crop = gray_img[t:b, l:r]
    return cv2.resize(crop, (FACE_CROP, FACE_CROP), interpolation=cv2.INTER_AREA) if crop.size else crop


def analyze(data, encoding=True):
    """Everything a verdict needs from one image, as plain data (it crosses a process boundary).

    `problem` names the first thing wrong with the picture itself (unreadable, too_large, too_dark,
    blurred, no_face, several_faces) or is None; `encoding` is the 128-d list when exactly one usable face
    was found.
    """
    t0 = time.perf_counter()
    out = {"sha256": hashlib.sha256(data or b"").hexdigest(), "phash": None, "width": 0, "height": 0, "faces": [],
           "face_px": 0, "luminance": None, "sharpness": None, "problem": None, "encoding": None, "ms": {}}
    try:
        frame = decode(data)
    except ImageProblem as e:
        out["problem"] = e.code
        return out
    g = gray(frame)
    out.update(height=frame.shape[0], width=frame.shape[1], phash=perceptual_hash(g))
    t1 = time.perf_counter()
    boxes = detect(frame)
    t2 = time.perf_counter()
    out["ms"].update(decode=round((t1 - t0) * 1000, 1), detect=round((t2 - t1) * 1000, 1))
    out["faces"] = [list(b) for b in boxes]
    if not boxes:
        out["luminance"], out["sharpness"] = float(np.percentile(g, 90)), sharpness(g)
        out["problem"] = ("too_dark" if out["luminance"] < DARK_FRAME_P90 else
                          "blurred" if out["sharpness"] < BLUR_FRAME else "no_face")
        return out
    if len(boxes) > 1:
        out["problem"] = "several_faces"
        return out
    box = boxes[0]
    out["face_px"] = box[2] - box[0]
    crop = face_crop(g, box)
    out["luminance"], out["sharpness"] = float(crop.mean()), sharpness(crop)
    if out["luminance"] < DARK_FACE:
        out["problem"] = "too_dark"
    elif out["sharpness"] < BLUR_FACE:
        out["problem"] = "blurred"
    elif encoding:
        out["encoding"] = [float(x) for x in encode(frame, box)]
        out["ms"]["encode"] = round((time.perf_counter() - t2) * 1000, 1)
    return out


def enrolment_problem(analysis):
    """What keeps this picture from being enrolled, or None: the picture's own problem or a face too small."""
    if analysis["problem"]:
        return analysis["problem"]
    short = min(analysis["width"], analysis["height"])
    if analysis["face_px"] < max(MIN_FACE_PX, MIN_FACE_FRACTION * short):
        return "face_too_small"
    return None


def to_vector(encoding):
    """An encoding from a list, bytes (float64 little-endian) or an array."""
    if isinstance(encoding, (bytes, bytearray, memoryview)):
        return np.frombuffer(bytes(encoding), dtype="<f8")
    return np.asarray(encoding, dtype=np.float64)


def to_bytes(encoding):
    return to_vector(encoding).astype("<f8").tobytes()


def face_distance(a, b):
    return float(np.linalg.norm(to_vector(a) - to_vector(b)))


def closest(encoding, others):
    """(key, distance) of the nearest of `others` [(key, encoding), ...], or (None, None) when there are none."""
    if not others:
        return None, None
    matrix = np.stack([to_vector(e) for _k, e in others])
    d = np.linalg.norm(matrix - to_vector(encoding), axis=1)
    i = int(np.argmin(d))
    return others[i][0], float(d[i])


def is_replay(analysis, earlier, replay_bits=REPLAY_BITS):
    """The same bytes as an earlier photo of this trainee, or a picture within `replay_bits` of one."""
    for sha, phash in earlier:
        if sha == analysis["sha256"]:
            return True
        if phash and analysis["phash"] and hash_distance(phash, analysis["phash"]) <= replay_bits:
            return True
    return False


def judge_check(analysis, enrolled, earlier, tolerance, replay_bits=REPLAY_BITS, burst=None):
    """The verdict on a check photo: (passed, reason, distance).

    `enrolled` is the trainee's enrolled encoding (None: not enrolled); `earlier` the (sha256, phash) of the
    trainee's earlier photos; `burst` None for a single photo, else what analyze_still said of the photo and
    the frames sent with it (fewer than two readable frames: judged as a single photo). Identical bytes are a replay whatever they show; then a still burst;
    then the picture's own problems; then a near copy of an earlier photo (only without a live burst: a person
    sitting still before a fixed webcam gives pictures that close); then the distance to the enrolled face.
    """
    if enrolled is None:
        return False, "not_enrolled", None
    if any(sha == analysis["sha256"] for sha, _p in earlier):
        return False, "replayed", None
    if burst is not None and burst["still"]:
        return False, burst["still"], None
    if analysis["problem"]:
        return False, analysis["problem"], None
    distance = round(face_distance(analysis["encoding"], enrolled), 4)
    live = burst is not None and bool(burst["motion"]) and not burst["still"]
    if not live and is_replay(analysis, earlier, replay_bits):
        return False, "replayed", distance
    if distance > tolerance:
        return False, "other_person", distance
    return True, None, distance


# A still picture: a burst whose frames differ only as one picture re-encoded, moved or scaled as a whole.

def _motion(a, b, m, level):
    """The share of the pixels both cover where b, warped onto a by m (2x3: b's coordinates from a's), still
    differs from a by more than `level` grey levels on average over 9x9 px, once brightness and contrast are
    matched as a whole (pixels at STILL_CLIP or brighter in either frame are left out)."""
    h, w = a.shape
    aligned = cv2.warpAffine(b, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    covered = cv2.warpAffine(np.ones((h, w), np.uint8), m, (w, h), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP)
    covered = cv2.erode(covered, np.ones((9, 9), np.uint8)) > 0
    if covered.sum() < 0.1 * h * w:  # hardly overlapping: not one picture moved
        return 1.0
    # Brightness and contrast matched as a whole (exposure), on the pixels neither frame clips.
    x, y = aligned[covered], a[covered]
    unclipped = (x < STILL_CLIP) & (y < STILL_CLIP)
    x, y = x[unclipped], y[unclipped]
    if x.size < 1000:
        return 0.0
    sx = x.std()
    gain = float(((x - x.mean()) * (y - y.mean())).mean() / sx ** 2) if sx > 1 else 1.0
    offset = float(y.mean() - gain * x.mean())
    covered &= (aligned < STILL_CLIP) & (a < STILL_CLIP)
    local = np.abs(cv2.blur(a - (aligned * gain + offset), (9, 9)))
    return float((local[covered] > level).mean())


def _ecc(a, b, start, iterations):
    try:
        _cc, m = cv2.findTransformECC(a, b, start.astype(np.float32), cv2.MOTION_AFFINE,
                                      (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, 1e-6), None, 1)
    except cv2.error:  # did not converge
        return None
    return m if 0.8 < abs(np.linalg.det(m[:, :2])) < 1.25 else None  # an implausible scale: a false match


def _scaled(m, k):
    m = m.copy()
    m[:, 2] *= k
    return m


def pair_motion(a, b, level=STILL_LEVEL):
    """How much of b still differs from a once b is aligned on a as a whole (see _motion). The transform: phase
    correlation (with and without a Hann window) and no motion as starting points, each refined by ECC (affine)
    on half-size blurred copies; the best of them refined again at full size."""
    h, w = a.shape
    sa = cv2.GaussianBlur(cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (5, 5), 0)
    sb = cv2.GaussianBlur(cv2.resize(b, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (5, 5), 0)
    starts = [np.eye(2, 3, dtype=np.float32)]
    for window in (None, cv2.createHanningWindow(sa.shape[::-1], cv2.CV_32F)):
        (dx, dy), _response = cv2.phaseCorrelate(sa, sb, window)
        starts.append(np.array([[1, 0, dx], [0, 1, dy]], np.float32))
    candidates = starts + [m for m in (_ecc(sa, sb, s, 50) for s in starts) if m is not None]
    scored = sorted(((_motion(sa, sb, m, level), i) for i, m in enumerate(candidates)))
    best = candidates[scored[0][1]]
    motions = [_motion(a, b, _scaled(best, 2), level)]
    fine = _ecc(cv2.GaussianBlur(a, (3, 3), 0), cv2.GaussianBlur(b, (3, 3), 0), _scaled(best, 2), 20)
    if fine is not None:
        motions.append(_motion(a, b, fine, level))
    return min(motions)


def burst_motion(frames_gray, level=STILL_LEVEL):
    """For each frame after the first: the share of the frame that still differs from the first once aligned
    on it as a whole (pair_motion). Of a longer burst, the first frame and the STILL_FRAMES - 1 frames that
    differ most from it at 1/8 size are compared."""
    ref = fit(np.asarray(frames_gray[0]), MAX_SIDE).astype(np.float32)
    h, w = ref.shape[:2]
    frames = []
    for f in frames_gray[1:]:
        f = fit(np.asarray(f), MAX_SIDE)
        if f.shape[:2] != (h, w):
            f = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
        frames.append(f.astype(np.float32))
    if len(frames) >= STILL_FRAMES:  # the frames that differ most from the first (a blink may last 2 frames of 16)
        small = cv2.resize(ref, (w // 8, h // 8), interpolation=cv2.INTER_AREA)
        change = [float(np.abs(cv2.resize(f, (w // 8, h // 8), interpolation=cv2.INTER_AREA) - small).mean())
                  for f in frames]
        keep = sorted(np.argsort(change)[::-1][:STILL_FRAMES - 1])
        frames = [frames[i] for i in keep]
    return [round(pair_motion(ref, f, level), 5) for f in frames]


def analyze_still(frames):
    """Whether a burst of frames (bytes each) is one still picture: {"motion": [...], "still": reason or None}.
    Frames that cannot be read are left out; fewer than two readable frames say nothing (still None)."""
    grey = []
    for data in frames:
        try:
            grey.append(gray(decode(data)))
        except ImageProblem:
            continue
    if len(grey) < 2:
        return {"motion": [], "still": None}
    motion = burst_motion(grey)
    return {"motion": motion, "still": "still_image" if max(motion) < STILL_MOTION else None}


def still_burst(frames_gray):
    """'still_image' when a burst of grey frames (2 or more) is one still picture: every frame, aligned on the
    first as a whole, matches it (identical, re-encoded, or moved, scaled or rotated as a whole); None when
    some part of the picture moved against the rest, as a person does before a fixed background."""
    if len(frames_gray) < 2:
        return None
    return "still_image" if max(burst_motion(frames_gray)) < STILL_MOTION else None


# Liveness (活体): in a burst of frames the eyes must close and open again.

def eye_aspect_ratio(eye):
    """(|p2-p6| + |p3-p5|) / (2 |p1-p4|) over the six landmarks of one eye: ~0.3 open, below ~0.2 closed."""
    p = np.asarray(eye, dtype=np.float64)
    width = np.linalg.norm(p[0] - p[3])
    if width == 0:
        return 0.0
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * width))


def blinked(ears, dip=0.75, recover=0.9):
    """The eye aspect ratio dipped below `dip` x the open level and came back above `recover` x it.

    The open level is the burst's 90th percentile; frames without a face (None) are skipped. A photo held
    to the camera gives a flat series: no dip.
    """
    series = [e for e in ears if e is not None]
    if len(series) < 3:
        return False
    open_level = float(np.percentile(series, 90))
    if open_level <= 0:
        return False
    seen_open, dipped = False, False
    for e in series:
        if not seen_open:
            seen_open = e >= recover * open_level
        elif not dipped:
            dipped = e <= dip * open_level
        elif e >= recover * open_level:
            return True
    return False


def analyze_burst(frames):
    """Eye aspect ratios over a burst of frames (bytes each) and whether they show a blink.

    The face is found once, in the first frame that has one; the landmarks of the following frames are
    taken in the same box (the burst lasts two seconds: the head barely moves), which spares a detection
    per frame.
    """
    fr = _fr()
    ears, box = [], None
    for data in frames:
        try:
            frame = decode(data)
        except ImageProblem:
            ears.append(None)
            continue
        if box is None:
            boxes = detect(frame)
            box = boxes[0] if boxes else None
        if box is None:
            ears.append(None)
            continue
        marks = fr.face_landmarks(frame, face_locations=[box], model="large")[0]
        ears.append(round((eye_aspect_ratio(marks["left_eye"]) + eye_aspect_ratio(marks["right_eye"])) / 2, 4))
    return {"ears": ears, "blinked": blinked(ears)}
