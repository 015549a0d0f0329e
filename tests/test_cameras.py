"""The camera-label rule (tracker.proctoring.cameras): known virtual cameras are refused, real ones and
Chromium's fake test device pass."""
import pytest

from tracker.proctoring.cameras import MAX_LABEL, is_virtual_camera, normalise


@pytest.mark.parametrize("label", [
    "OBS Virtual Camera", "OBS-Camera", "obs camera", "ManyCam Virtual Webcam", "ManyCam", "XSplit VCam",
    "Snap Camera", "SnapCamera", "Virtual Camera", "Unity Video Capture (virtual)", "e2eSoft VCam", "虚拟摄像头",
    "CamTwist", "SplitCam Video Driver", "ＯＢＳ Virtual Camera", "OBS_Virtual_Camera", "  obs  ",
])
def test_virtual_cameras_are_refused(label):
    assert is_virtual_camera(label)


@pytest.mark.parametrize("label", [
    "fake_device_0", "Integrated Camera (04f2:b6dd)", "FaceTime HD Camera", "USB2.0 HD UVC WebCam", "前置摄像头",
    "camera2 1, facing front", "Logitech BRIO", "Jobs Camera", "HD Pro Webcam C920", "", None,
])
def test_real_cameras_and_no_label_pass(label):
    assert not is_virtual_camera(label)


def test_labels_are_stored_as_one_short_line():
    assert normalise(None) is None and normalise("   ") is None
    assert normalise(" OBS\nVirtual\x00Camera ") == "OBS Virtual Camera"
    assert len(normalise("x" * 1000)) == MAX_LABEL
