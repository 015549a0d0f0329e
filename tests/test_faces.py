"""Judging face photos with real photos and the real library (face_recognition on dlib), no mocks.

Photos come from ../shared/faces (see its README: who is who). Faces are analysed in this process here;
tests/test_proctoring_api.py goes through the worker pool and the routes.
"""
import io
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests import bursts
from tracker.proctoring import faces

FACES = Path(__file__).resolve().parents[2] / "shared" / "faces"
TOLERANCE = 0.5

pytestmark = pytest.mark.skipif(not FACES.is_dir(), reason="../shared/faces is not beside this checkout")


def face_file(name):
    """Bytes of a photo by short name (examples/obama.jpg is "obama")."""
    paths = {
        "obama": "examples/obama.jpg", "obama2": "examples/obama2.jpg", "obama3": "tests/test_images/obama3.jpg",
        "biden": "examples/biden.jpg", "biden2": "examples/knn_examples/train/biden/biden2.jpg",
        "two_people": "examples/two_people.jpg", "alex": "examples/knn_examples/train/alex_lacamoire/img1.jpg",
        "alex_test": "examples/knn_examples/test/alex_lacamoire1.jpg",
        "kit": "examples/knn_examples/train/kit_harington/john1.jpeg",
        "kit_test": "examples/knn_examples/test/johnsnow_test1.jpg",
        "rose": "examples/knn_examples/train/rose_leslie/img1.jpg", "rose2": "examples/knn_examples/train/rose_leslie/img2.jpg",
    }
    return (FACES / paths[name]).read_bytes()


def pixels(name):
    return np.asarray(Image.open(io.BytesIO(face_file(name))).convert("RGB"))


def jpeg(rgb, quality=90):
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def camera_frame(name, quality=90):
    """The photo as a webcam would send it: padded to 640x480 (never stretched), JPEG."""
    return jpeg(faces.pad_to(pixels(name)), quality)


def no_face_photo():
    """A real photo with no face in it: the lower half of obama.jpg (suit and shirt)."""
    rgb = pixels("obama")
    return jpeg(rgb[rgb.shape[0] // 2:])


def darkened(name, factor=0.15):
    return jpeg((pixels(name).astype(np.float32) * factor).astype(np.uint8))


def eyes_closed(rgb):
    """The same picture with both eyes shut: the eyes painted over with the skin around them (inpainting) and a
    lash line along the lower lid. The 68-point landmark model reads it as closed on most faces (biden2: eye
    aspect ratio 0.19 -> 0.09; alex 0.26 -> 0.14); not on obama2, whose eyebrows are raised.
    """
    import face_recognition

    marks = face_recognition.face_landmarks(rgb, [faces.detect(rgb)[0]], model="large")[0]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for eye in ("left_eye", "right_eye"):
        cv2.fillConvexPoly(mask, cv2.convexHull(np.array(marks[eye], np.int32)), 255)
    out = cv2.inpaint(np.ascontiguousarray(rgb), cv2.dilate(mask, np.ones((7, 7), np.uint8)), 5, cv2.INPAINT_TELEA)
    for eye in ("left_eye", "right_eye"):
        p = np.array(marks[eye])
        lid = np.array([p[0], (p[4] + p[5]) / 2 + [0, 1], p[3]], np.int32)
        cv2.polylines(out, [lid], False, (35, 25, 25), 2, cv2.LINE_AA)
    return out


@lru_cache(maxsize=None)
def analysed(data):
    return faces.analyze(data)


@pytest.fixture(scope="module")
def enrolled():
    a = analysed(face_file("obama"))
    assert faces.enrolment_problem(a) is None
    return a


def judge(data, enrolled, earlier=()):
    return faces.judge_check(analysed(data), enrolled["encoding"], list(earlier), TOLERANCE)


def test_the_same_person_passes(enrolled):
    passed, reason, distance = judge(face_file("obama2"), enrolled)
    assert passed and reason is None
    assert 0 < distance < TOLERANCE


def test_the_same_person_from_a_webcam_frame_passes(enrolled):
    passed, _reason, distance = judge(camera_frame("obama2"), enrolled)
    assert passed and distance < TOLERANCE


def test_another_person_fails(enrolled):
    passed, reason, distance = judge(face_file("biden"), enrolled)
    assert (passed, reason) == (False, "other_person")
    assert distance > TOLERANCE


def test_tolerance_decides(enrolled):
    a = analysed(face_file("obama2"))
    _p, _r, distance = faces.judge_check(a, enrolled["encoding"], [], TOLERANCE)
    assert faces.judge_check(a, enrolled["encoding"], [], distance - 0.01)[1] == "other_person"


def test_no_face_fails(enrolled):
    assert judge(no_face_photo(), enrolled)[:2] == (False, "no_face")


def test_two_faces_fail(enrolled):
    a = analysed(face_file("two_people"))
    assert len(a["faces"]) == 2
    assert judge(face_file("two_people"), enrolled)[:2] == (False, "several_faces")


def test_a_dark_photo_fails(enrolled):
    assert judge(darkened("obama2"), enrolled)[:2] == (False, "too_dark")


def test_a_blurred_photo_fails(enrolled):
    blurred = jpeg(cv2.GaussianBlur(pixels("obama2"), (0, 0), 4))
    assert judge(blurred, enrolled)[:2] == (False, "blurred")


def test_the_same_bytes_again_are_a_replay(enrolled):
    first = analysed(camera_frame("obama2"))
    assert judge(camera_frame("obama2"), enrolled, [(first["sha256"], first["phash"])])[:2] == (False, "replayed")
    # the enrolment photo itself, sent as a check photo
    assert judge(face_file("obama"), enrolled, [(enrolled["sha256"], enrolled["phash"])])[:2] == (False, "replayed")


@pytest.mark.parametrize("copy", ["reencoded", "resized"])
def test_a_slightly_changed_copy_is_a_replay_by_perceptual_hash(enrolled, copy):
    first = analysed(camera_frame("obama2"))
    frame = faces.pad_to(pixels("obama2"))
    data = jpeg(frame, 70) if copy == "reencoded" else jpeg(cv2.resize(frame, (560, 420), interpolation=cv2.INTER_AREA), 85)
    assert data != camera_frame("obama2")
    assert faces.hash_distance(first["phash"], analysed(data)["phash"]) <= faces.REPLAY_BITS
    passed, reason, distance = judge(data, enrolled, [(first["sha256"], first["phash"])])
    assert (passed, reason) == (False, "replayed")
    assert distance < TOLERANCE  # it is the right person; it is the same picture


def test_a_new_picture_of_a_trainee_who_moved_is_not_a_replay(enrolled):
    first = analysed(camera_frame("obama2"))
    moved = jpeg(np.roll(faces.pad_to(pixels("obama2")), 12, axis=1))  # the head 12 px to the right
    assert faces.hash_distance(first["phash"], analysed(moved)["phash"]) > faces.REPLAY_BITS
    assert judge(moved, enrolled, [(first["sha256"], first["phash"])])[0] is True


def test_not_enrolled_fails():
    assert faces.judge_check(analysed(face_file("obama2")), None, [], TOLERANCE)[:2] == (False, "not_enrolled")


@pytest.mark.parametrize("data,code", [(b"", "unreadable"), (b"not an image at all", "unreadable"),
                                       (b"\xff\xd8\xff\xe0" + b"\0" * 100, "unreadable")])
def test_unreadable_images(data, code):
    assert faces.analyze(data)["problem"] == code


def test_images_too_large_are_refused_before_decoding():
    assert faces.analyze(b"\0" * (faces.MAX_BYTES + 1))["problem"] == "too_large"
    huge = io.BytesIO()
    Image.new("L", (8000, 6000)).save(huge, "PNG")  # 48 megapixels of black compress to almost nothing
    assert faces.analyze(huge.getvalue())["problem"] == "too_large"


def test_exif_orientation_is_applied():
    rotated = io.BytesIO()
    img = Image.fromarray(np.rot90(pixels("obama2")).copy())  # stored on its side ...
    exif = img.getexif()
    exif[0x0112] = 6  # ... with the EXIF tag that says "rotate 90° clockwise to view"
    img.save(rotated, "JPEG", exif=exif)
    a = faces.analyze(rotated.getvalue())
    assert a["problem"] is None and a["height"] > a["width"]


def test_detection_on_the_reduced_copy_is_scaled_back_to_the_frame():
    a = analysed(camera_frame("obama2"))
    (top, right, bottom, left), = a["faces"]
    assert (a["width"], a["height"]) == (640, 480)
    assert 0 <= left < right <= 640 and 0 <= top < bottom <= 480
    assert bottom - top > 100  # measured in the 640x480 frame, not in the 320x240 copy


def test_enrolment_wants_a_large_enough_face():
    assert faces.enrolment_problem(analysed(face_file("obama"))) is None
    small = cv2.resize(pixels("obama"), (192, 240), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[:240, :192] = small
    a = faces.analyze(jpeg(canvas))
    assert a["problem"] is None and a["face_px"] < 96
    assert faces.enrolment_problem(a) == "face_too_small"
    assert faces.enrolment_problem(analysed(face_file("two_people"))) == "several_faces"


def test_every_reason_has_a_chinese_message():
    for reason in ("no_face", "several_faces", "other_person", "replayed", "too_dark", "blurred", "not_enrolled",
                   "deadline_missed", "face_too_small", "unreadable", "too_large", "no_blink"):
        assert any("\u4e00" <= c <= "\u9fff" for c in faces.MESSAGES[reason])


def test_closest_finds_the_same_face_among_others():
    encodings = [(name, analysed(face_file(name))["encoding"]) for name in ("biden", "alex", "obama", "kit")]
    key, distance = faces.closest(analysed(face_file("obama2"))["encoding"], encodings)
    assert key == "obama" and distance <= TOLERANCE
    key, distance = faces.closest(analysed(face_file("rose"))["encoding"], encodings)
    assert distance > TOLERANCE
    assert faces.closest([0.0] * 128, []) == (None, None)


def test_encodings_round_trip_through_bytes(enrolled):
    raw = faces.to_bytes(enrolled["encoding"])
    assert len(raw) == 128 * 8
    assert faces.face_distance(raw, enrolled["encoding"]) == 0


# Liveness: eye aspect ratio over a burst of frames

def test_eye_aspect_ratio_of_open_and_closed_eyes():
    open_eye = [(0, 0), (2, -1.5), (4, -1.5), (6, 0), (4, 1.5), (2, 1.5)]
    closed = [(0, 0), (2, -0.3), (4, -0.3), (6, 0), (4, 0.3), (2, 0.3)]
    assert faces.eye_aspect_ratio(open_eye) == pytest.approx(0.5)
    assert faces.eye_aspect_ratio(closed) == pytest.approx(0.1)


@pytest.mark.parametrize("ears,blink", [
    ([0.31, 0.30, 0.32, 0.14, 0.12, 0.29, 0.31], True),   # open, closed, open again
    ([0.31, None, 0.30, 0.15, None, 0.30], True),          # frames without a face are skipped
    ([0.31, 0.30, 0.31, 0.30, 0.31, 0.30], False),         # a photo held to the camera: flat
    ([0.31, 0.30, 0.12, 0.11, 0.12, 0.10], False),         # closed and never reopened
    ([0.12, 0.11, 0.31, 0.30], False),                     # opened only: no dip after being open
    ([0.3, 0.1], False), ([], False),
])
def test_a_blink_must_dip_and_recover(ears, blink):
    assert faces.blinked(ears) is blink


@pytest.mark.parametrize("name", ["biden2", "alex"])
def test_a_burst_with_the_eyes_shut_in_the_middle_shows_a_blink(name):
    frame = faces.pad_to(pixels(name))
    shut = eyes_closed(frame)
    burst = [jpeg(frame), jpeg(frame), jpeg(shut), jpeg(shut), jpeg(frame), jpeg(frame)]
    result = faces.analyze_burst(burst)
    assert result["blinked"] is True, result["ears"]
    assert result["ears"][2] < 0.75 * result["ears"][0]
    assert faces.analyze_burst(burst[:4])["blinked"] is False  # shut, never reopened


def test_a_burst_of_one_photo_shows_no_blink():
    result = faces.analyze_burst([camera_frame("obama2")] * 4)
    assert len(result["ears"]) == 4 and all(0.2 < e < 0.45 for e in result["ears"])
    assert result["blinked"] is False


# A still picture: a burst whose frames are one picture, re-encoded or moved as a whole (tests/bursts.py)

def grey(frames):
    return [faces.gray(f) for f in frames]


@pytest.mark.parametrize("name", ["obama2", "biden2", "alex_test", "rose", "two_people"])
@pytest.mark.parametrize("sigma", [1.0, 3.0])
def test_a_live_burst_is_not_a_still_picture(name, sigma):
    frame = faces.pad_to(pixels(name))
    rng = np.random.default_rng(12)
    burst = bursts.live_burst(frame, faces.detect(frame)[0], rng, count=4, sigma=sigma)
    assert faces.still_burst(grey(burst)) is None, faces.burst_motion(grey(burst))


@pytest.mark.parametrize("name", ["obama2", "biden2", "alex_test", "rose", "two_people"])
def test_one_picture_repeated_re_encoded_or_moved_as_a_whole_is_a_still_picture(name):
    frame = faces.pad_to(pixels(name))
    for kind, burst in bursts.still_bursts(frame, np.random.default_rng(12)).items():
        assert faces.still_burst(grey(burst)) == "still_image", (kind, faces.burst_motion(grey(burst)))


def test_an_edited_copy_of_an_earlier_photo_is_a_still_picture():
    """Frames made from one earlier photo: cropped and scaled like a webcam frame, brightened, each re-encoded."""
    earlier = faces.pad_to(pixels("obama2"))
    frames = [bursts.jpeg_round_trip(earlier, 95),
              bursts.jpeg_round_trip(np.clip(earlier * 1.1 + 8, 0, 255).astype(np.uint8), 70),
              bursts.jpeg_round_trip(bursts.warped(earlier, -4, 3, 1.03, -1.5), 80),
              bursts.jpeg_round_trip(cv2.GaussianBlur(bursts.warped(earlier, 5, 0, 0.98), (3, 3), 0), 60)]
    assert faces.still_burst(grey(frames)) == "still_image", faces.burst_motion(grey(frames))


def test_a_blink_is_motion_against_the_rest_of_the_picture():
    frame = faces.pad_to(pixels("biden2"))
    shut = eyes_closed(frame)
    burst = [bursts.jpeg_round_trip(f) for f in (frame, frame, shut, frame)]
    assert faces.still_burst(grey(burst)) is None, faces.burst_motion(grey(burst))
    assert faces.still_burst(grey([frame] * 4)) == "still_image"


def test_what_the_passive_rule_cannot_tell():
    """Noise added per frame to a still picture does not make it live (the rule looks for local motion), but a
    script that moves the face against its background, as tests/bursts.live_burst does, passes: only a challenge
    (do something now) tells it from a person."""
    frame = faces.pad_to(pixels("obama2"))
    rng = np.random.default_rng(3)
    assert faces.still_burst(grey(bursts.still_bursts(frame, rng)["moved, noise"])) == "still_image"
    assert faces.still_burst(grey(bursts.live_burst(frame, faces.detect(frame)[0], rng, sigma=0.0))) is None


def test_a_still_burst_has_a_message_that_says_what_to_do():
    assert "摄像头" in faces.MESSAGES["still_image"] and "重试" in faces.MESSAGES["still_image"]
    assert faces.still_burst([]) is None and faces.still_burst([np.zeros((48, 64), np.uint8)]) is None


def test_a_live_burst_is_not_refused_for_resembling_an_earlier_photo(enrolled):
    """A person sitting still before a fixed webcam: the new photo is within REPLAY_BITS of the earlier one."""
    frame = faces.pad_to(pixels("obama2"))
    earlier_photo = analysed(jpeg(frame))
    earlier = [(earlier_photo["sha256"], earlier_photo["phash"])]
    burst = [bursts.jpeg_bytes(f) for f in bursts.live_burst(frame, faces.detect(frame)[0], np.random.default_rng(5))]
    photo = analysed(burst[0])
    assert faces.hash_distance(photo["phash"], earlier_photo["phash"]) <= faces.REPLAY_BITS
    assert faces.judge_check(photo, enrolled["encoding"], earlier, TOLERANCE)[:2] == (False, "replayed")
    live = faces.analyze_still(burst)
    assert live["still"] is None and len(live["motion"]) == len(burst) - 1
    assert faces.judge_check(photo, enrolled["encoding"], earlier, TOLERANCE, burst=live)[:2] == (True, None)
    # ... but the very same bytes again are refused, burst or not
    again = analysed(jpeg(frame))
    assert faces.judge_check(again, enrolled["encoding"], earlier, TOLERANCE, burst=live)[:2] == (False, "replayed")


def test_a_still_burst_fails_as_a_still_image(enrolled):
    data = camera_frame("obama2")
    still = faces.analyze_still([data, camera_frame("obama2", quality=70), camera_frame("obama2", quality=50)])
    assert still["still"] == "still_image"
    assert faces.judge_check(analysed(data), enrolled["encoding"], [], TOLERANCE, burst=still)[:2] == (False, "still_image")
    # unreadable frames say nothing: the photo is judged as a single photo
    assert faces.analyze_still([data, b"junk", b""]) == {"motion": [], "still": None}
