"""Fake cameras for Chromium: Y4M files made from real photos.

Chromium plays `--use-file-for-fake-video-capture=F.y4m` as the webcam, looping it. The photo is padded to
640x480 (never stretched, or no face is found). A still camera repeats one frame; a "live" camera lets the
person drift slowly across the picture, as a real person moves: two photos taken seconds apart differ, as
they do with a real webcam, so they are not replays of each other.
"""
import cv2
import numpy as np
from PIL import Image

from tracker.proctoring.faces import pad_to

WIDTH, HEIGHT = 640, 480


def frame_of(photo):
    return pad_to(np.asarray(Image.open(photo).convert("RGB")), WIDTH, HEIGHT)


def write_y4m(path, frames, fps=10):
    """Frames (RGB, 640x480) as YUV4MPEG2 with 4:2:0 chroma: the header, then FRAME + the I420 planes each."""
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            f.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420).tobytes())
    return str(path)


def still_camera(photo, path):
    """One frame, shown for as long as the camera is open."""
    return write_y4m(path, [frame_of(photo)])


def live_camera(photo, path, seconds=80, fps=2, drift=48, zoom=0.06):
    """The person drifts `2 * drift` px sideways and comes `zoom` closer over `seconds`, then the loop restarts."""
    base = frame_of(photo)
    count = seconds * fps
    frames = []
    for i in range(count):
        t = i / (count - 1)
        m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 0, 1 + zoom * t)
        m[0, 2] += -drift + 2 * drift * t
        frames.append(cv2.warpAffine(base, m, (WIDTH, HEIGHT)))
    return write_y4m(path, frames, fps)


def blinking_camera(photo, path, fps=10, open_frames=11, shut_frames=4, shift=30, zoom=0.08):
    """The person blinks every 1.5 s (eyes shut for 0.4 s): a liveness burst of 2.4 s sees one whole blink.

    Shifted and a little closer than the photo itself, so that it is a new picture, not a replay."""
    from tests.test_faces import eyes_closed

    m = cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), 0, 1 + zoom)
    m[0, 2] += shift
    base = cv2.warpAffine(frame_of(photo), m, (WIDTH, HEIGHT))
    return write_y4m(path, [base] * open_frames + [eyes_closed(base)] * shut_frames, fps)


def chromium_args(y4m):
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={y4m}"]
