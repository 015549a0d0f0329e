"""Which cameras a face photo may come from: a pure function of the label the browser reports for the camera.

Virtual cameras (OBS, ManyCam, XSplit, Snap Camera, anything calling itself virtual) show whatever a program
feeds them: a video of somebody else, a still photo. The page refuses them before taking a photo (static/camera.js
keeps the same list for its message); the server's list here is the rule. The label is what the client says: a
client that lies about it is not stopped by this, but an honest browser with a virtual camera is, and the label
goes into the evidence either way.
"""
import re
import unicodedata

MAX_LABEL = 200

# Whole words where a short name could be part of another word ("obs" in "jobs"), substrings elsewhere.
VIRTUAL_PATTERNS = (
    r"\bobs\b", r"manycam", r"xsplit", r"snap\s*camera", r"virtual", r"虚拟", r"\bvcam\b", r"splitcam",
    r"camtwist", r"e2esoft", r"youcam", r"chromacam", r"mmhmm",
)
_VIRTUAL = re.compile("|".join(VIRTUAL_PATTERNS))


def normalise(label):
    """The label as stored: one line of printable text, at most MAX_LABEL characters; None when nothing was sent."""
    if label is None:
        return None
    text = unicodedata.normalize("NFKC", str(label))
    text = "".join(c if c.isprintable() else " " for c in text)
    text = " ".join(text.split())[:MAX_LABEL]
    return text or None


def is_virtual_camera(label):
    """True when the camera's label names a known virtual camera. No label (an API client, an uploaded file) is not."""
    text = normalise(label)
    if not text:
        return False
    return _VIRTUAL.search(text.casefold().replace("_", " ").replace("-", " ")) is not None
